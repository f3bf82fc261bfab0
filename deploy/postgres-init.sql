-- Carepath's own database beside Temporal's, on the same PostgreSQL server (compose only).
CREATE ROLE carepath LOGIN PASSWORD 'carepath';
CREATE DATABASE carepath OWNER carepath;
