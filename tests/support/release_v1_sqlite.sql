-- The schema breachnotice 0.1.0 (commit 2e27612) creates on sqlite: the output of
-- SQLModel.metadata.create_all, frozen. Never edit: migration tests build a release
-- database from it. Statements are separated by a line holding only ';'.

CREATE TABLE audit_event (
	id INTEGER NOT NULL,
	incident_id VARCHAR,
	kind VARCHAR NOT NULL,
	detail JSON NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
)
;
CREATE INDEX ix_audit_event_incident_id ON audit_event (incident_id)
;
CREATE TABLE incident (
	id VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	severity VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	description JSON NOT NULL,
	impact JSON NOT NULL,
	measures_taken JSON NOT NULL,
	measures_planned JSON NOT NULL,
	advice JSON NOT NULL,
	remedies JSON NOT NULL,
	categories JSON NOT NULL,
	scope JSON NOT NULL,
	flags JSON NOT NULL,
	contact JSON NOT NULL,
	aware_at DATETIME NOT NULL,
	discovered_at DATETIME,
	occurred_at DATETIME,
	created_at DATETIME NOT NULL,
	notice_version INTEGER NOT NULL,
	PRIMARY KEY (id)
)
;
CREATE INDEX ix_incident_status ON incident (status)
;
CREATE TABLE outbox (
	id INTEGER NOT NULL,
	topic VARCHAR NOT NULL,
	"key" VARCHAR NOT NULL,
	payload JSON NOT NULL,
	created_at DATETIME NOT NULL,
	published_at DATETIME,
	PRIMARY KEY (id)
)
;
CREATE INDEX ix_outbox_published_at ON outbox (published_at)
;
CREATE TABLE person (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	email VARCHAR,
	phone VARCHAR,
	postal_address JSON NOT NULL,
	locale VARCHAR NOT NULL,
	country VARCHAR NOT NULL,
	region VARCHAR,
	birth_date VARCHAR,
	is_minor BOOLEAN NOT NULL,
	guardian_id VARCHAR,
	channel_preferences JSON NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(guardian_id) REFERENCES person (id)
)
;
CREATE INDEX ix_person_country ON person (country)
;
CREATE INDEX ix_person_region ON person (region)
;
CREATE TABLE processed_event (
	consumer VARCHAR NOT NULL,
	event_id VARCHAR NOT NULL,
	processed_at DATETIME NOT NULL,
	PRIMARY KEY (consumer, event_id)
)
;
CREATE TABLE schema_info (
	id INTEGER NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (id)
)
;
CREATE TABLE affected_person (
	id INTEGER NOT NULL,
	incident_id VARCHAR NOT NULL,
	person_id VARCHAR NOT NULL,
	jurisdiction VARCHAR NOT NULL,
	categories JSON NOT NULL,
	is_minor BOOLEAN NOT NULL,
	recipient_id VARCHAR NOT NULL,
	contact_problems JSON NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (incident_id, person_id),
	FOREIGN KEY(incident_id) REFERENCES incident (id),
	FOREIGN KEY(person_id) REFERENCES person (id),
	FOREIGN KEY(recipient_id) REFERENCES person (id)
)
;
CREATE INDEX ix_affected_person_incident_id ON affected_person (incident_id)
;
CREATE TABLE delivery_attempt (
	idempotency_key VARCHAR NOT NULL,
	incident_id VARCHAR NOT NULL,
	person_id VARCHAR NOT NULL,
	channel VARCHAR NOT NULL,
	notice_version INTEGER NOT NULL,
	status VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	provider_id VARCHAR,
	worker_id VARCHAR NOT NULL,
	tries INTEGER NOT NULL,
	error VARCHAR,
	claimed_at DATETIME NOT NULL,
	sent_at DATETIME,
	PRIMARY KEY (idempotency_key),
	FOREIGN KEY(incident_id) REFERENCES incident (id),
	FOREIGN KEY(person_id) REFERENCES person (id)
)
;
CREATE INDEX ix_attempt_incident_status ON delivery_attempt (incident_id, status)
;
CREATE TABLE incident_clock (
	incident_id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	at DATETIME NOT NULL,
	national_security BOOLEAN NOT NULL,
	recorded_at DATETIME NOT NULL,
	PRIMARY KEY (incident_id, name),
	FOREIGN KEY(incident_id) REFERENCES incident (id)
)
;
CREATE TABLE notice (
	id INTEGER NOT NULL,
	incident_id VARCHAR NOT NULL,
	person_id VARCHAR NOT NULL,
	recipient_id VARCHAR NOT NULL,
	version INTEGER NOT NULL,
	status VARCHAR NOT NULL,
	channel VARCHAR,
	reason VARCHAR,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE (incident_id, person_id, version),
	FOREIGN KEY(incident_id) REFERENCES incident (id),
	FOREIGN KEY(person_id) REFERENCES person (id),
	FOREIGN KEY(recipient_id) REFERENCES person (id)
)
;
CREATE INDEX ix_notice_incident_status ON notice (incident_id, status)
;
CREATE TABLE obligation (
	id INTEGER NOT NULL,
	incident_id VARCHAR NOT NULL,
	"key" VARCHAR NOT NULL,
	rule_id VARCHAR NOT NULL,
	regime VARCHAR NOT NULL,
	recipient VARCHAR NOT NULL,
	recipient_name VARCHAR NOT NULL,
	stage VARCHAR NOT NULL,
	jurisdiction VARCHAR NOT NULL,
	persons INTEGER NOT NULL,
	reason VARCHAR NOT NULL,
	citation VARCHAR NOT NULL,
	deadline VARCHAR NOT NULL,
	clock_note VARCHAR NOT NULL,
	time_zone VARCHAR NOT NULL,
	clock_start_kind VARCHAR NOT NULL,
	clock_start DATETIME,
	due DATETIME,
	target DATETIME,
	content_items JSON NOT NULL,
	forbidden_items JSON NOT NULL,
	substitute_notice JSON NOT NULL,
	law_enforcement_delay VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	met_at DATETIME,
	facts_hash VARCHAR NOT NULL,
	computed_at DATETIME NOT NULL,
	superseded_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(incident_id) REFERENCES incident (id)
)
;
CREATE INDEX ix_obligation_due ON obligation (due)
;
CREATE INDEX ix_obligation_incident_open ON obligation (incident_id, superseded_at)
;
