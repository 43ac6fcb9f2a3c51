"""The project's real local stack: Kafka, PostgreSQL, an SMTP mailbox, Prometheus and the services."""
