-- The flood season's daily village reports (值班报告 / 零报告): one round per
-- plan per day (asked, the silent chased once, summarised for the county) and
-- each village's answer in it. A daily report notice's own text says how to
-- reply (无情况回复0), so its SMS carries no "回复1确认收到" and no link.
ALTER TABLE alerts ADD COLUMN own_reply INTEGER NOT NULL DEFAULT 0;

CREATE TABLE daily_rounds (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    plan_id TEXT NOT NULL,
    -- The local calendar day, YYYY-MM-DD.
    day TEXT NOT NULL,
    asked_at INTEGER NOT NULL,
    deadline_at INTEGER NOT NULL,
    summary_at INTEGER NOT NULL,
    ask_alert_id INTEGER REFERENCES alerts(id),
    chased_at INTEGER,
    chase_alert_id INTEGER REFERENCES alerts(id),
    summarised_at INTEGER,
    -- The text for the county, as it was when summarised.
    summary_text TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    UNIQUE (township_id, plan_id, day)
);
CREATE INDEX daily_rounds_ask ON daily_rounds(ask_alert_id);
CREATE INDEX daily_rounds_chase ON daily_rounds(chase_alert_id);

CREATE TABLE daily_answers (
    round_id INTEGER NOT NULL REFERENCES daily_rounds(id),
    township_id INTEGER NOT NULL DEFAULT 1,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    contact_id INTEGER REFERENCES contacts(id),
    contact_name TEXT,
    phone TEXT,
    -- The role the person asked holds (the plan's, or a fallback).
    role TEXT,
    -- zero (零报告) | report (情况) | none (未报)
    kind TEXT NOT NULL DEFAULT 'none',
    reply TEXT,
    answered_at INTEGER,
    chased INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (round_id, village_id)
);
