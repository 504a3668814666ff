//! Chaos: while a stream of runs of five shapes (a wait, a webhook that fails
//! then passes under a retry policy, parallel branches calling webhooks, a
//! chain of webhooks whose outputs feed later steps, a condition) keeps
//! starting, the host is killed with `kill -9` at random moments several
//! times and restarted on the same database. Then: every trigger the host
//! accepted (answered 202) reached COMPLETED, and so did every other run in
//! the database; no recorded step was recorded twice and each step's
//! attempts are 1, 2, .. in order; every run's context is exactly what its
//! log rows say; the receivers saw each idempotency key once per recorded
//! attempt, plus at most once more per killed host that had the step in
//! flight (so a non-retried webhook at most twice, and twice only across a
//! kill); and no run is left holding a lease.
//!
//! The kill moments come from a seed printed at the start; set
//! `WEFT_CHAOS_SEED` to replay the same kill schedule and pacing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use weft_tests::receiver::{Answer, Receiver};
use weft_tests::{Host, Options, TOKEN};

/// How many times the host is killed.
const KILLS: usize = 3;
/// How long each killed host lives, ms (random in this range). Well over
/// the lease, and a kill also waits until the previous kill's runs were taken
/// over (`settle_takeover`), so the steps a restarted host takes over have
/// finished before the next kill: a non-retried webhook is sent at most twice.
const LIFE_MS: (u64, u64) = (1_800, 3_200);
/// How long before a kill no run may have been orphaned, ms: more than a
/// webhook step takes (the stable receiver answers after 150 ms).
const SETTLED_MS: u64 = 500;
/// How long the last host keeps receiving triggers, ms.
const LAST_LIFE_MS: u64 = 1_500;
/// Pause between two triggers, ms (random in this range).
const PACE_MS: (u64, u64) = (15, 60);
/// Attempts of the flaky webhook: it sees at most one scripted 500 queued at a
/// time, so it passes long before this.
const FLAKY_ATTEMPTS: u64 = 8;
/// How long every run has to finish once the triggers stop.
const DRAIN: Duration = Duration::from_secs(40);

fn options() -> Options {
    Options {
        env: vec![
            // A short lease, so a restarted host takes the dead host's runs over quickly.
            ("WEFT_LEASE_MS".into(), "1000".into()),
            // The receivers listen on loopback.
            ("WEFT_HTTP_ALLOW".into(), "127.0.0.1".into()),
        ],
        ..Options::default()
    }
}

/// xorshift64: enough randomness for kill moments, and replayable from its seed.
#[derive(Clone, Copy)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `lo..hi`.
    fn range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

fn seed() -> u64 {
    if let Some(seed) = std::env::var("WEFT_CHAOS_SEED").ok().and_then(|s| s.parse().ok()) {
        return seed;
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    // Spread the bits of the clock over the whole word.
    nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// The shapes of run the test keeps starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Increment, wait 300 ms, increment twice.
    Waits,
    /// A webhook that may get a 500 first and is retried, then an increment.
    Retry,
    /// A set, two parallel branches each calling a webhook, an increment.
    Fanout,
    /// Two webhooks, the second sending the first's answer, then a set from the second's.
    Hooks,
    /// A condition on the event that goes to one of two steps.
    Branch,
}

const KINDS: [Kind; 5] = [Kind::Waits, Kind::Retry, Kind::Fanout, Kind::Hooks, Kind::Branch];

fn hook(id: &str, url: &str, body: Value) -> Value {
    json!({ "id": id, "type": "webhook", "config": { "url": url, "body": body } })
}

fn increment(id: &str) -> Value {
    json!({ "id": id, "type": "update-field", "config": { "increment": { "count": 1 } } })
}

impl Kind {
    fn definition(self, stable: &str, flaky: &str) -> Value {
        let steps = match self {
            Kind::Waits => json!([
                increment("a"),
                { "id": "pause", "type": "wait", "config": { "duration": "300ms" } },
                increment("b"),
                increment("c"),
            ]),
            Kind::Retry => {
                let mut flaky_hook =
                    hook("hook", &format!("{flaky}/flaky"), json!({ "run": "{{ run.id }}" }));
                flaky_hook["retry"] =
                    json!({ "maxAttempts": FLAKY_ATTEMPTS, "backoffMs": 50, "maxBackoffMs": 200 });
                json!([flaky_hook, increment("after")])
            }
            Kind::Fanout => json!([
                { "id": "start", "type": "update-field", "config": { "set": { "fanned": true } } },
                { "id": "p", "type": "parallel", "branches": [
                    [hook("left", &format!("{stable}/left"), json!({ "run": "{{ run.id }}" }))],
                    [hook("right", &format!("{stable}/right"), json!({ "run": "{{ run.id }}" }))],
                ] },
                increment("done"),
            ]),
            Kind::Hooks => json!([
                hook("h1", &format!("{stable}/h1"), json!({ "n": "{{ event.n }}" })),
                hook("h2", &format!("{stable}/h2"), json!({ "prev": "{{ steps.h1.body.crmId }}" })),
                { "id": "note", "type": "update-field", "config": { "set": { "crm": "{{ steps.h2.body.crmId }}" } } },
            ]),
            Kind::Branch => json!([
                { "id": "check", "type": "condition",
                  "config": { "if": "{{ event.n % 2 == 0 }}", "then": "even", "else": "odd" } },
                { "id": "even", "type": "update-field", "config": { "set": { "parity": "even" } }, "next": "end" },
                { "id": "odd", "type": "update-field", "config": { "set": { "parity": "odd" } } },
            ]),
        };
        json!({ "name": format!("Chaos {self:?}"), "trigger": { "type": "manual" }, "steps": steps })
    }

    /// Webhook steps of this shape.
    fn hooks(self) -> &'static [&'static str] {
        match self {
            Kind::Retry => &["hook"],
            Kind::Fanout => &["left", "right"],
            Kind::Hooks => &["h1", "h2"],
            Kind::Waits | Kind::Branch => &[],
        }
    }
}

/// A trigger the host answered 202.
struct Accepted {
    run: String,
    kind: Kind,
    payload: Value,
}

/// What one trigger loop did.
#[derive(Default)]
struct Triggered {
    accepted: Vec<Accepted>,
    /// Transport errors: the host was dead or dying. Not accepted.
    unanswered: usize,
    /// Answers other than 202 from a live host.
    refused: Vec<(u16, Value)>,
}

/// The flaky receiver's script: one 500 queued at a time at most.
#[derive(Default)]
struct Flaky {
    /// `seen().len()` right after the last 500 was queued.
    mark: Option<usize>,
    scripted: usize,
}

/// Queues a 500 on the flaky receiver unless the last one queued may still be
/// waiting: a request after it was queued has taken it.
fn maybe_script_500(receiver: &Receiver, flaky: &Mutex<Flaky>) {
    let mut state = flaky.lock().unwrap_or_else(|p| p.into_inner());
    if state.mark.is_none_or(|mark| receiver.seen().len() > mark) {
        receiver.script([Answer::json(500, json!({ "error": "flaky" }))]);
        state.mark = Some(receiver.seen().len());
        state.scripted += 1;
    }
}

/// Triggers runs of random shapes against `base` until `stop`.
async fn trigger_loop(
    base: String,
    workflows: Arc<Vec<(Kind, String)>>,
    flaky_receiver: Arc<Receiver>,
    flaky: Arc<Mutex<Flaky>>,
    serial: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    mut rng: Rng,
) -> Triggered {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(e) => panic!("http client: {e}"),
    };
    let mut out = Triggered::default();
    while !stop.load(Ordering::SeqCst) {
        let (kind, workflow) = &workflows[(rng.next() % workflows.len() as u64) as usize];
        let n = serial.fetch_add(1, Ordering::SeqCst);
        let payload = json!({ "n": n, "kind": format!("{kind:?}") });
        if *kind == Kind::Retry {
            maybe_script_500(&flaky_receiver, &flaky);
        }
        let sent = client
            .post(format!("{base}/api/workflows/{workflow}/trigger"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await;
        let answer = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.text()
                    .await
                    .ok()
                    .map(|text| (status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
            }
            Err(_) => None,
        };
        match answer {
            Some((202, body)) => match body["id"].as_str() {
                Some(id) => out.accepted.push(Accepted { run: id.to_owned(), kind: *kind, payload }),
                None => out.refused.push((202, body)),
            },
            Some(other) => out.refused.push(other),
            None => out.unanswered += 1,
        }
        tokio::time::sleep(Duration::from_millis(rng.range(PACE_MS))).await;
    }
    out
}

/// The ended (non-`retrying`) step of each step id, in log order, after
/// checking that each step was recorded as ended once, with attempts 1, 2, ..
/// and only `retrying` before the last.
fn ended_once(run: &Value) -> Vec<(String, String, Value)> {
    let logs = run["logs"].as_array().cloned().unwrap_or_default();
    let mut rows_of: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut order = Vec::new();
    for row in &logs {
        let step = row["step"].as_str().unwrap_or_default().to_owned();
        if !rows_of.contains_key(&step) {
            order.push(step.clone());
        }
        rows_of.entry(step).or_default().push(row);
    }
    let mut ended = Vec::new();
    for step in order {
        let rows = &rows_of[&step];
        let attempts: Vec<i64> = rows.iter().map(|r| r["attempt"].as_i64().unwrap_or(-1)).collect();
        let expected: Vec<i64> = (1..=rows.len() as i64).collect();
        assert_eq!(attempts, expected, "step `{step}`: each attempt recorded once, in order: {run:#}");
        let (last, before) = rows.split_last().expect("at least one row");
        assert!(
            before.iter().all(|r| r["action"] == "retrying"),
            "step `{step}` was recorded as ended more than once: {run:#}"
        );
        let action = last["action"].as_str().unwrap_or_default().to_owned();
        assert!(
            ["completed", "branched", "slept"].contains(&action.as_str()),
            "step `{step}` ended with `{action}` in a run that completed: {run:#}"
        );
        ended.push((step, action, last["result"]["output"].clone()));
    }
    ended
}

/// Checks a COMPLETED run of `kind` against its logs; returns the number of
/// log rows of each webhook step (its recorded attempts).
fn check_run(run: &Value, kind: Kind) -> BTreeMap<String, usize> {
    let id = run["id"].as_str().unwrap_or_default();
    assert_eq!(run["status"], "COMPLETED", "every run completes: {run:#}");
    assert!(run["error"].is_null(), "a completed run has no error: {run:#}");
    let ended = ended_once(run);
    let context = &run["context"];
    let steps = context["steps"].as_object().cloned().unwrap_or_default();
    // Each ended step's output is what the context holds for it, and the
    // context holds nothing a log row does not account for.
    for (step, _, output) in &ended {
        assert_eq!(steps.get(step), Some(output), "context.steps.{step} is its logged output: {run:#}");
    }
    let mut in_context: BTreeSet<&str> = steps.keys().map(String::as_str).collect();
    if kind == Kind::Fanout {
        assert!(in_context.remove("p"), "the parallel step gathers its branches: {run:#}");
        assert_eq!(
            context["steps"]["p"],
            json!({ "left": context["steps"]["left"], "right": context["steps"]["right"] }),
            "{run:#}"
        );
    }
    let logged: BTreeSet<&str> = ended.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(in_context, logged, "context.steps holds exactly the ended steps: {run:#}");

    let trail: Vec<(&str, &str)> = ended.iter().map(|(s, a, _)| (s.as_str(), a.as_str())).collect();
    let increments = trail
        .iter()
        .filter(|(s, a)| *a == "completed" && ["a", "b", "c", "after", "done"].contains(s))
        .count();
    let vars = &context["vars"];
    match kind {
        Kind::Waits => {
            assert_eq!(
                trail,
                [("a", "completed"), ("pause", "slept"), ("b", "completed"), ("c", "completed")],
                "{run:#}"
            );
        }
        Kind::Retry => {
            assert_eq!(trail, [("hook", "completed"), ("after", "completed")], "{run:#}");
        }
        Kind::Fanout => {
            assert_eq!(trail.len(), 4, "{run:#}");
            let middle: BTreeSet<(&str, &str)> = trail[1..3].iter().copied().collect();
            assert_eq!(trail[0], ("start", "completed"), "{run:#}");
            assert_eq!(middle, BTreeSet::from([("left", "completed"), ("right", "completed")]), "{run:#}");
            assert_eq!(trail[3], ("done", "completed"), "{run:#}");
        }
        Kind::Hooks => {
            assert_eq!(trail, [("h1", "completed"), ("h2", "completed"), ("note", "completed")], "{run:#}");
        }
        Kind::Branch => {
            let even = context["event"]["n"].as_u64().map(|n| n % 2 == 0);
            let target = if even == Some(true) { "even" } else { "odd" };
            assert_eq!(trail, [("check", "branched"), (target, "completed")], "{run:#}");
            let branched =
                run["logs"].as_array().and_then(|l| l.first()).map(|l| l["result"]["target"].clone());
            assert_eq!(branched, Some(json!(target)), "{run:#}");
        }
    }
    // The vars are exactly what the update-field steps that completed say.
    let expected_vars = match kind {
        Kind::Waits | Kind::Retry => json!({ "count": increments }),
        Kind::Fanout => json!({ "fanned": true, "count": increments }),
        Kind::Hooks => json!({ "crm": context["steps"]["h2"]["body"]["crmId"] }),
        Kind::Branch => {
            let target = trail.get(1).map_or("", |(s, _)| *s);
            json!({ "parity": target })
        }
    };
    assert_eq!(vars, &expected_vars, "context.vars of run {id}: {run:#}");
    let expected_increments = match kind {
        Kind::Waits => 3,
        Kind::Retry | Kind::Fanout => 1,
        Kind::Hooks | Kind::Branch => 0,
    };
    assert_eq!(increments, expected_increments, "{run:#}");
    if kind == Kind::Hooks {
        assert_eq!(vars["crm"], "crm-42", "{run:#}");
    }
    let mut attempts = BTreeMap::new();
    for step in kind.hooks() {
        assert_eq!(context["steps"][step]["status"], json!(200), "webhook `{step}` answered 200: {run:#}");
        let rows = trail_rows(run, step);
        attempts.insert(format!("{id}/{step}/1"), rows);
    }
    attempts
}

fn trail_rows(run: &Value, step: &str) -> usize {
    run["logs"].as_array().map_or(0, |logs| logs.iter().filter(|l| l["step"] == step).count())
}

/// Requests per idempotency key, each with the index of the host generation
/// that sent it (generation `g` ends at the `g`th kill; `marks[g]` is how
/// many requests the receiver had seen once host `g` was dead).
fn keys_by_generation(receiver: &Receiver, marks: &[usize]) -> BTreeMap<String, Vec<usize>> {
    let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, seen) in receiver.seen().iter().enumerate() {
        let generation = marks.iter().filter(|m| i >= **m).count();
        let key = seen.header("idempotency-key").unwrap_or("<none>").to_owned();
        keys.entry(key).or_default().push(generation);
    }
    keys
}

/// Waits until, for the last [`SETTLED_MS`], no unfinished run has been held
/// by a dead host (`dead`: the lease owners seen after each kill) or been
/// without a live lease: the killed hosts' runs were all taken over and the
/// steps they had in flight were sent again and answered, so the next kill
/// cannot cut the same step off a second time. Takes `SETTLED_MS` when
/// nothing is orphaned (the kill schedule allows for it).
async fn settle_takeover(host: &Host, dead: &BTreeSet<String>, generation: usize) {
    let dead: Vec<String> = dead.iter().map(|o| format!("'{}'", o.replace('\'', "''"))).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut settled_since = Instant::now();
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let orphaned = host
            .sql_value(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM workflow_runs WHERE status IN ('PENDING', 'RUNNING') \
                 AND (leaseUntil IS NULL OR leaseUntil < {now} OR leaseOwner IN ({}))",
                if dead.is_empty() { "NULL".to_owned() } else { dead.join(", ") }
            ))
            .await;
        if orphaned.as_deref() != Some("0") {
            settled_since = Instant::now();
        } else if settled_since.elapsed() >= Duration::from_millis(SETTLED_MS) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "host {generation} never took over the killed hosts' runs: {orphaned:?} unfinished runs orphaned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open_runs(host: &Host) -> String {
    host.sql_value(
        "SELECT CAST(COUNT(*) AS TEXT) || ': ' || COALESCE(GROUP_CONCAT(id || ' ' || status, ', '), '') \
         FROM workflow_runs WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')",
    )
    .await
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_repeated_kill_9_with_each_step_recorded_once() {
    let started = Instant::now();
    let seed = seed();
    println!("chaos seed {seed} (replay the kill schedule with WEFT_CHAOS_SEED={seed})");
    let mut rng = Rng::new(seed);

    // Answers slowly enough that webhooks are often in flight at a kill.
    let stable = Arc::new(Receiver::start().await);
    stable.delay(Duration::from_millis(150));
    let flaky_receiver = Arc::new(Receiver::start().await);
    let flaky = Arc::new(Mutex::new(Flaky::default()));

    let opts = options();
    let mut host = tokio::task::block_in_place(|| Host::start_with(opts.clone()));
    let mut workflows = Vec::new();
    for kind in KINDS {
        workflows.push((kind, host.create_active(kind.definition(&stable.base, &flaky_receiver.base)).await));
    }
    let workflows = Arc::new(workflows);
    let kind_of: BTreeMap<String, Kind> = workflows.iter().map(|(k, id)| (id.clone(), *k)).collect();

    let serial = Arc::new(AtomicU64::new(0));
    let mut accepted: Vec<Accepted> = Vec::new();
    let (mut unanswered, mut refused) = (0, Vec::new());
    let (mut stable_marks, mut flaky_marks, mut lives) = (Vec::new(), Vec::new(), Vec::new());
    let mut dead_owners = BTreeSet::new();
    for generation in 0..=KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(trigger_loop(
            host.base.clone(),
            Arc::clone(&workflows),
            Arc::clone(&flaky_receiver),
            Arc::clone(&flaky),
            Arc::clone(&serial),
            Arc::clone(&stop),
            Rng::new(rng.next()),
        ));
        let born = Instant::now();
        let life = if generation < KILLS { rng.range(LIFE_MS) } else { LAST_LIFE_MS };
        if generation < KILLS {
            tokio::time::sleep(Duration::from_millis(life.saturating_sub(SETTLED_MS))).await;
            settle_takeover(&host, &dead_owners, generation).await;
            host.kill9();
            lives.push(born.elapsed().as_millis());
            // Let requests the dead host had already sent land, then note
            // where its requests end at each receiver.
            tokio::time::sleep(Duration::from_millis(100)).await;
            stable_marks.push(stable.seen().len());
            flaky_marks.push(flaky_receiver.seen().len());
            // Every lease held now is the dead host's.
            let owners = host
                .sql_value("SELECT GROUP_CONCAT(DISTINCT leaseOwner) FROM workflow_runs WHERE leaseOwner IS NOT NULL")
                .await
                .unwrap_or_default();
            dead_owners.extend(owners.split(',').filter(|o| !o.is_empty()).map(str::to_owned));
        } else {
            tokio::time::sleep(Duration::from_millis(life)).await;
        }
        stop.store(true, Ordering::SeqCst);
        let out = match task.await {
            Ok(out) => out,
            Err(e) => panic!("trigger loop of host {generation}: {e}"),
        };
        accepted.extend(out.accepted);
        unanswered += out.unanswered;
        refused.extend(out.refused);
        if generation < KILLS {
            let dir = Arc::clone(&host.dir);
            host = tokio::task::block_in_place(|| Host::start_in(dir, &opts));
        }
    }
    assert!(refused.is_empty(), "a live host refused triggers: {refused:?}");
    assert!(accepted.len() >= 50, "the chaos phase started too few runs: {}", accepted.len());

    // Every run in the database ends, not only the accepted ones (a trigger
    // cut off by a kill may have started one).
    let deadline = Instant::now() + DRAIN;
    loop {
        let open = open_runs(&host).await;
        if open.starts_with("0:") {
            break;
        }
        assert!(Instant::now() < deadline, "runs never finished after the last restart: {open}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each accepted trigger's run exists and carries the payload it was given.
    let mut sent: BTreeSet<String> = BTreeSet::new();
    for a in accepted {
        let (code, run) = host.get(&format!("/api/workflow-runs/{}", a.run)).await;
        assert_eq!(code, 200, "accepted run {} is missing: {run}", a.run);
        assert_eq!(run["context"]["event"], a.payload, "the run carries its trigger's payload: {run:#}");
        assert_eq!(kind_of.get(run["workflowId"].as_str().unwrap_or_default()), Some(&a.kind), "{run:#}");
        sent.insert(a.run);
    }

    let all = host.sql_value("SELECT GROUP_CONCAT(id, ',') FROM workflow_runs").await.unwrap_or_default();
    let all: Vec<&str> = all.split(',').filter(|s| !s.is_empty()).collect();
    let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
    let (mut completed, mut retried_runs, mut retry_rows) = (0, 0, 0);
    let mut per_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for id in &all {
        let (code, run) = host.get(&format!("/api/workflow-runs/{id}")).await;
        assert_eq!(code, 200, "{run}");
        let Some(kind) = kind_of.get(run["workflowId"].as_str().unwrap_or_default()).copied() else {
            panic!("a run of an unknown workflow: {run:#}");
        };
        recorded.extend(check_run(&run, kind));
        completed += 1;
        *per_kind.entry(kind).or_default() += 1;
        let retries =
            run["logs"].as_array().map_or(0, |l| l.iter().filter(|r| r["action"] == "retrying").count());
        retry_rows += retries;
        retried_runs += usize::from(retries > 0);
    }
    for id in &sent {
        assert!(all.contains(&id.as_str()), "accepted run {id} is not in the database");
    }

    // No log row was written twice for one position of a run.
    let duplicates = host
        .sql_value(
            "SELECT CAST(COUNT(*) AS TEXT) FROM (SELECT runId, seq FROM workflow_run_logs \
             GROUP BY runId, seq HAVING COUNT(*) > 1)",
        )
        .await;
    assert_eq!(duplicates.as_deref(), Some("0"), "a run has two log rows at one sequence number");

    // No run is left holding a lease.
    let held = host
        .sql_value(
            "SELECT CAST(COUNT(*) AS TEXT) FROM workflow_runs WHERE leaseOwner IS NOT NULL \
             AND status IN ('COMPLETED','FAILED','CANCELLED')",
        )
        .await;
    assert_eq!(held.as_deref(), Some("0"), "a finished run still holds a lease");
    let held =
        host.sql_value("SELECT CAST(COUNT(*) AS TEXT) FROM workflow_runs WHERE leaseOwner IS NOT NULL").await;
    assert_eq!(held.as_deref(), Some("0"), "a run still holds a lease after everything finished");
    let open = open_runs(&host).await;
    assert!(open.starts_with("0:"), "unfinished runs: {open}");

    // Idempotency keys: one request per recorded attempt, plus at most one per
    // killed host that had the attempt in flight.
    let mut extras_total = 0;
    let (mut once, mut twice) = (0, 0);
    for (receiver, marks, name) in
        [(&stable, &stable_marks, "stable"), (&flaky_receiver, &flaky_marks, "flaky")]
    {
        for (key, generations) in keys_by_generation(receiver, marks) {
            let Some(&logged) = recorded.get(&key) else {
                panic!("the {name} receiver saw key {key} of no recorded webhook step ({generations:?})");
            };
            let seen = generations.len();
            assert!(seen >= logged, "key {key}: {logged} attempts recorded but {seen} requests seen");
            let killed: BTreeSet<usize> = generations.iter().copied().filter(|g| *g < KILLS).collect();
            let extras = seen - logged;
            assert!(
                extras <= killed.len(),
                "key {key}: {seen} requests for {logged} recorded attempts, but only {} killed host(s) sent it \
                 (hosts {generations:?}): a recorded step ran again",
                killed.len()
            );
            extras_total += extras;
            if name == "stable" {
                // Never retried: once, or twice when a kill cut the first off.
                assert!(seen <= 2, "key {key} was sent {seen} times (hosts {generations:?})");
                if seen == 2 {
                    assert!(
                        generations[0] < KILLS && generations[0] < generations[1],
                        "key {key} was sent twice, not across a kill (hosts {generations:?})"
                    );
                    twice += 1;
                } else {
                    once += 1;
                }
            }
        }
    }
    // Every recorded webhook attempt reached its receiver.
    let stable_keys = stable.keys();
    let flaky_keys = flaky_receiver.keys();
    for (key, logged) in &recorded {
        let seen = stable_keys.get(key).or_else(|| flaky_keys.get(key)).copied().unwrap_or(0);
        assert!(seen >= *logged, "key {key}: {logged} attempts recorded, {seen} requests seen");
    }

    let scripted = flaky.lock().unwrap_or_else(|p| p.into_inner()).scripted;
    if scripted >= 2 * KILLS + 3 {
        assert!(retried_runs > 0, "{scripted} 500s were scripted but no run recorded a retry");
    }

    let accepted_count = sent.len();
    println!("chaos seed {seed}: {KILLS} kills, after {lives:?} ms of life");
    println!(
        "chaos: triggers accepted {accepted_count}, unanswered (host dead) {unanswered}; runs in the database {}, \
         completed {completed}; by shape {per_kind:?}",
        all.len()
    );
    println!(
        "chaos: flaky 500s scripted {scripted}, runs that retried {retried_runs} ({retry_rows} retrying rows); \
         webhook keys (stable receiver) seen once {once}, twice {twice}; requests lost to kills {extras_total}; \
         most in flight {} / {}",
        stable.most_in_flight(),
        flaky_receiver.most_in_flight()
    );
    println!("chaos: took {:.1} s", started.elapsed().as_secs_f64());
}
