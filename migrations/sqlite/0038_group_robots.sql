-- Work-group robots (工作群机器人): WeCom / DingTalk / Feishu custom robots
-- that post a notice's summary and its live answer counts to the office's
-- own group (no village) or a village's group. They inform; they never
-- count as an answer. The webhook URL carries the robot's key or token and
-- the secret signs DingTalk's 加签 and Feishu's 签名校验: neither is ever
-- shown back in full nor written to the audit trail.
CREATE TABLE group_robots (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    -- NULL: the office's own group.
    village_id INTEGER REFERENCES villages(id),
    -- wecom | dingtalk | feishu
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    secret TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    -- Held (until this time, UTC ms) by the daemon sending this robot's
    -- posts: one at a time and in order, whichever daemon sends.
    send_lease_until INTEGER,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX group_robots_township ON group_robots(township_id, village_id);

-- The posts: an outbox like the deliveries'. A summary when a notice turns
-- active (written in that transaction), then updates of the answer counts,
-- a final 全部叫应, and test messages (no notice). A notice's summary and
-- final post are each written once per robot (the unique index).
CREATE TABLE robot_posts (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    robot_id INTEGER NOT NULL REFERENCES group_robots(id),
    alert_id INTEGER REFERENCES alerts(id),
    -- summary | update | final | test
    kind TEXT NOT NULL,
    -- markdown | text; the content as posted (a summary's is written when
    -- it is first sent, with the counts then) and the phones @mentioned.
    msgtype TEXT NOT NULL DEFAULT 'text',
    body TEXT,
    mentions TEXT,
    -- queued | sending | sent | failed | superseded
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    sent_at INTEGER,
    -- The provider's own message when it refused (errcode / code / HTTP).
    last_error TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX robot_posts_due ON robot_posts(status, next_at);
CREATE INDEX robot_posts_robot ON robot_posts(robot_id, status, id);
CREATE INDEX robot_posts_alert ON robot_posts(alert_id, robot_id);
CREATE UNIQUE INDEX robot_posts_once ON robot_posts(alert_id, robot_id, kind) WHERE kind IN ('summary', 'final');

-- Every try at a post, for the 20-a-minute limit of each robot and the
-- post's history.
CREATE TABLE robot_attempts (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES robot_posts(id),
    robot_id INTEGER NOT NULL REFERENCES group_robots(id),
    at INTEGER NOT NULL,
    -- sent | retry | failed | unknown
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX robot_attempts_robot ON robot_attempts(robot_id, at);
CREATE INDEX robot_attempts_post ON robot_attempts(post_id);

-- A notice followed in a robot's group: the answer counts last posted
-- ("answered/total/overdue", NULL until the summary went out), when, and
-- how many posts so far (a compare-and-set: each update is written once,
-- whichever daemon sees the change). Done after 全部叫应 or when the notice
-- closes.
CREATE TABLE robot_follows (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    robot_id INTEGER NOT NULL REFERENCES group_robots(id),
    township_id INTEGER NOT NULL DEFAULT 1,
    counts TEXT,
    posted_at INTEGER NOT NULL,
    -- When the counts were last looked at without a post (they are read
    -- again at most every 15 s once an update is due).
    checked_at INTEGER,
    posts INTEGER NOT NULL DEFAULT 1,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, robot_id)
);
CREATE INDEX robot_follows_open ON robot_follows(done, alert_id);
