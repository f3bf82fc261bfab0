"""Protecting health information: payload encryption for everything Temporal stores."""

from privacy.codec import EncryptionCodec, PayloadTamperedError, UnknownKeyError
from privacy.keys import KeyRing, generate_key_file, load_key_ring

__all__ = [
    "EncryptionCodec",
    "KeyRing",
    "PayloadTamperedError",
    "UnknownKeyError",
    "generate_key_file",
    "load_key_ring",
]
