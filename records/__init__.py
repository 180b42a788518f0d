"""The system of record: consents, assets, outputs, releases, users, jobs and the audit chain."""
