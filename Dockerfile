# One image for every Carepath process (worker, API, migrations); the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY eventstore ./eventstore
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY config ./config
COPY projections ./projections
COPY api ./api
COPY privacy ./privacy
COPY database ./database
COPY records ./records
COPY cli ./cli
COPY devstack ./devstack
RUN pip install --no-cache-dir .
USER nobody
CMD ["carepath", "--help"]
