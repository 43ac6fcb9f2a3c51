-- One database per service (each owns its schema; migrations run at service start).
CREATE DATABASE intake;
CREATE DATABASE router;
CREATE DATABASE tracker;
CREATE DATABASE notifier;
