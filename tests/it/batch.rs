//! Batches: results in input order with the single send's outcome rules, per-mailbox limits and
//! throttling pauses, the mailbox budget, progress and cancellation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;
use pmp_graph_emulator::FaultPlan;
use pmp_mail::batch::{BatchOptions, BatchProgress, BatchResult, ItemStatus};
use pmp_mail::{CancelToken, Message};
use serde_json::json;

fn faults(value: serde_json::Value) -> FaultPlan {
    serde_json::from_value(value).unwrap()
}

/// A hang guard, not a timing claim.
const QUICKLY: Duration = Duration::from_secs(10);

fn mail(from: &str, subject: &str) -> Result<Message, pmp_mail::Error> {
    Ok(message(
        json!({"from": from, "to": ["a@contoso.com"], "subject": subject}),
    ))
}

fn run(
    client: &pmp_mail::Client,
    messages: Vec<Result<Message, pmp_mail::Error>>,
    options: &BatchOptions,
    cancel: Option<&CancelToken>,
) -> (BatchResult, Vec<BatchProgress>) {
    let mut seen = Vec::new();
    let result = client
        .send_batch(messages, options, cancel, &mut |p| seen.push(*p))
        .unwrap();
    (result, seen)
}

/// How many times each subject arrived.
fn arrivals(emu: &pmp_graph_emulator::Emulator) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in emu.messages() {
        *seen.entry(m.subject).or_insert(0) += 1;
    }
    seen
}

/// Checks the promise of every batch: one item per message in input order, counts that add
/// up, every `sent` arrived exactly once, no `failed`/`cancelled` arrived, an `unknown` at most
/// once.
fn check_outcomes(result: &BatchResult, subjects: &[String], emu: &pmp_graph_emulator::Emulator) {
    assert_eq!(result.results.len(), subjects.len());
    for (i, item) in result.results.iter().enumerate() {
        assert_eq!(item.index, i);
    }
    assert_eq!(
        result.sent + result.failed + result.unknown + result.cancelled,
        result.total
    );
    let arrived = arrivals(emu);
    for (item, subject) in result.results.iter().zip(subjects) {
        let n = arrived.get(subject).copied().unwrap_or(0);
        match item.status {
            ItemStatus::Sent => {
                assert_eq!(n, 1, "sent {subject} arrived {n} times");
                assert!(item.result.is_some() && item.error.is_none());
            }
            ItemStatus::Failed | ItemStatus::Cancelled => {
                assert_eq!(n, 0, "{:?} {subject} arrived {n} times", item.status);
                assert!(item.error.is_some());
            }
            ItemStatus::Unknown => {
                assert!(n <= 1, "unknown {subject} arrived {n} times");
                let error = item.error.as_ref().unwrap();
                assert_eq!(error.outcome, Some(pmp_mail::Outcome::Unknown));
            }
        }
    }
}

#[test]
fn results_come_back_in_input_order_with_every_outcome_under_mixed_faults() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    // 429 and 503 with Retry-After are waited out; the drops cost one message each.
    emu.set_faults(faults(json!({"rules": [
        {"path": "site-a", "action": "status", "status": 429, "retryAfterSeconds": 1, "count": 2},
        {"path": "site-b", "action": "status", "status": 503, "retryAfterSeconds": 1, "count": 2},
        {"path": "sendMail", "action": "dropAfterAccept", "skip": 10, "count": 1},
        {"path": "sendMail", "action": "dropBeforeAccept", "skip": 20, "count": 1},
    ]})));
    let mailboxes = [MAILBOX, MAILBOX_SITE_A, MAILBOX_SITE_B];
    let mut subjects: Vec<String> = Vec::new();
    let mut messages = Vec::new();
    for i in 0..30 {
        let subject = format!("batch mixed {i}");
        messages.push(mail(mailboxes[i % 3], &subject));
        subjects.push(subject);
    }
    // One message that is not a message: its own failure, not the batch's.
    messages.insert(
        7,
        Err(pmp_mail::Message::from_json(r#"{"from":"x@contoso.com","bogus":1}"#).unwrap_err()),
    );
    subjects.insert(7, "not a message".into());
    let (result, progress) = run(&client, messages, &BatchOptions::default(), None);
    check_outcomes(&result, &subjects, &emu);
    assert_eq!(result.results[7].status, ItemStatus::Failed);
    assert!(
        result.results[7]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("bogus"),
        "{:?}",
        result.results[7].error
    );
    assert!(result.unknown >= 1, "the drop after accept is unknown");
    // Each drop costs its own message only (one connection per send in flight).
    assert!(result.unknown <= 2, "{result:#?}");
    assert_eq!(result.sent + result.unknown, 30, "{result:#?}");
    // Progress: the total first, then one report per finished message at least.
    assert_eq!(progress.first().map(|p| (p.total, p.done)), Some((31, 0)));
    assert_eq!(progress.last().map(|p| p.done), Some(31));
    assert!(progress.windows(2).all(|w| w[0].done <= w[1].done));
}

#[test]
fn a_throttled_mailbox_waits_while_the_others_keep_going() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    emu.set_faults(faults(json!({"rules": [
        {"path": "site-a", "action": "status", "status": 429, "retryAfterSeconds": 2, "graphCode": "ApplicationThrottled", "count": 1},
        {"path": "sendMail", "action": "delay", "delayMs": 150, "count": 1000},
    ]})));
    let mut messages = Vec::new();
    let mut subjects = Vec::new();
    for i in 0..12 {
        for from in [MAILBOX, MAILBOX_SITE_A] {
            let subject = format!("throttle {from} {i}");
            messages.push(mail(from, &subject));
            subjects.push(subject);
        }
    }
    let (result, progress) = run(&client, messages, &BatchOptions::default(), None);
    check_outcomes(&result, &subjects, &emu);
    assert_eq!(result.sent, 24, "{result:#?}");
    // Never more than 4 at once per mailbox: Graph would have refused the fifth with a 429.
    let refused = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sendMail") && r.status == 429)
        .count();
    assert_eq!(refused, 1, "only the injected 429");
    // The emulator's own count: never more than 4 in flight per mailbox, none refused.
    for stats in emu.throttling() {
        assert!(stats.peak_in_flight <= 4, "{stats:?}");
        assert_eq!(stats.throttled_concurrency, 0, "{stats:?}");
    }
    assert!(
        emu.throttling().iter().any(|s| s.peak_in_flight == 4),
        "the batch used the 4 slots of a mailbox: {:?}",
        emu.throttling()
    );
    let throttled_log = |from: &str| {
        result
            .results
            .iter()
            .filter(|r| {
                r.result
                    .as_ref()
                    .is_some_and(|s| s.log.iter().any(|l| l.contains("the mailbox is throttled")))
            })
            .filter(|r| subjects[r.index].contains(from))
            .count()
    };
    assert!(
        throttled_log(MAILBOX_SITE_A) >= 1,
        "site A's queued sends waited out its pause"
    );
    assert_eq!(throttled_log(MAILBOX), 0, "the other mailbox was not held");
    assert!(
        progress
            .iter()
            .any(|p| p.waiting_for_throttle > 0 && p.throttled_for_ms > 0),
        "progress showed the throttled mailbox"
    );
    let waited_a = result
        .results
        .iter()
        .filter(|r| subjects[r.index].contains(MAILBOX_SITE_A))
        .map(|r| r.waited_ms)
        .max()
        .unwrap();
    assert!(waited_a >= 1000, "site A waited {waited_a} ms");
}

#[test]
fn the_mailbox_budget_queues_instead_of_failing() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["sending"] = json!({"maxMessagesPerMailbox": 3, "windowSeconds": 2});
    let client = client_from(config);
    let subjects: Vec<String> = (0..6).map(|i| format!("budget {i}")).collect();
    let messages = subjects.iter().map(|s| mail(MAILBOX, s)).collect();
    let (result, _) = run(&client, messages, &BatchOptions::default(), None);
    check_outcomes(&result, &subjects, &emu);
    assert_eq!(result.sent, 6);
    let queued: Vec<_> = result
        .results
        .iter()
        .filter(|r| {
            r.result
                .as_ref()
                .unwrap()
                .log
                .iter()
                .any(|l| l.contains("waiting") && l.contains("for the window to move"))
        })
        .collect();
    assert_eq!(queued.len(), 3, "{result:#?}");
    assert!(queued.iter().all(|r| r.waited_ms >= 500), "{queued:#?}");
}

#[test]
fn one_at_a_time_sends_in_input_order() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let subjects: Vec<String> = (0..9).map(|i| format!("ordered {i}")).collect();
    let froms = [MAILBOX, MAILBOX_SITE_A, MAILBOX_SITE_B];
    let messages = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| mail(froms[i % 3], s))
        .collect();
    let options = BatchOptions {
        max_concurrent: Some(1),
        ..BatchOptions::default()
    };
    let (result, _) = run(&client, messages, &options, None);
    check_outcomes(&result, &subjects, &emu);
    let arrived: Vec<String> = emu.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(arrived, subjects);
}

#[test]
fn stop_on_failure_sends_nothing_after_the_first_failure() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    // The second sendMail is refused (400: nothing was sent).
    let refuse_second = || {
        faults(json!({"rules": [
            {"path": "sendMail", "action": "status", "status": 400,
             "graphCode": "ErrorInvalidRecipients", "skip": 1, "count": 1},
        ]}))
    };
    emu.set_faults(refuse_second());
    let subjects: Vec<String> = (0..5).map(|i| format!("stop {i}")).collect();
    let messages = |subjects: &[String]| subjects.iter().map(|s| mail(MAILBOX, s)).collect();
    let options = BatchOptions {
        max_concurrent: Some(1),
        stop_on_failure: Some(true),
        ..BatchOptions::default()
    };
    let caller = CancelToken::new();
    let (result, _) = run(&client, messages(&subjects), &options, Some(&caller));
    check_outcomes(&result, &subjects, &emu);
    let statuses: Vec<ItemStatus> = result.results.iter().map(|r| r.status).collect();
    use ItemStatus::*;
    assert_eq!(statuses, [Sent, Failed, Cancelled, Cancelled, Cancelled]);
    let arrived: Vec<String> = emu.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(arrived, ["stop 0"]);
    let why = result.results[2].error.as_ref().unwrap();
    assert!(why.message.contains("stopOnFailure"), "{}", why.message);
    assert!(
        !caller.is_cancelled(),
        "the batch's stop must not cancel the caller's token"
    );

    // Without it the batch goes on past the failure.
    emu.reset();
    emu.set_faults(refuse_second());
    let options = BatchOptions {
        max_concurrent: Some(1),
        ..BatchOptions::default()
    };
    let (result, _) = run(&client, messages(&subjects), &options, None);
    let statuses: Vec<ItemStatus> = result.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Sent, Failed, Sent, Sent, Sent]);
}

#[test]
fn cancelling_a_batch_stops_it_and_reports_the_rest_cancelled() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    emu.set_faults(faults(json!({"rules": [
        {"path": "sendMail", "action": "delay", "delayMs": 300, "count": 1000},
    ]})));
    let subjects: Vec<String> = (0..40).map(|i| format!("cancel {i}")).collect();
    let messages = subjects.iter().map(|s| mail(MAILBOX, s)).collect();
    let token = CancelToken::new();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            token.cancel();
        })
    };
    let started = Instant::now();
    let (result, _) = run(&client, messages, &BatchOptions::default(), Some(&token));
    canceller.join().unwrap();
    assert!(started.elapsed() < QUICKLY, "{:?}", started.elapsed());
    check_outcomes(&result, &subjects, &emu);
    assert!(result.cancelled > 0, "{result:#?}");
    assert!(result.sent > 0, "{result:#?}");
    assert_eq!(result.sent + result.cancelled, 40, "{result:#?}");
    // Nothing went out after the batch returned.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(emu.messages().len(), result.sent);
    let cancelled = result
        .results
        .iter()
        .find(|r| r.status == ItemStatus::Cancelled)
        .unwrap();
    assert_eq!(cancelled.error.as_ref().unwrap().category, "cancelled");
}

#[test]
fn a_cancelled_batch_leaves_no_draft() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    // Uploads take 1.5 s, and the cancel comes once a draft exists, so it lands while the first
    // drafts upload: they stop before their send, the rest before their draft.
    emu.set_faults(faults(json!({"rules": [
        {"path": "upload", "action": "delay", "delayMs": 1500, "count": 1000},
    ]})));
    let big = b64(&pseudo_random_bytes(3 * 1024 * 1024 + 10, 7));
    let messages = (0..6)
        .map(|i| {
            Ok(message(json!({
                "from": MAILBOX, "to": ["a@contoso.com"], "subject": format!("big {i}"),
                "attachments": [{"name": "big.bin", "contentBase64": big}],
            })))
        })
        .collect();
    let token = CancelToken::new();
    let (result, _) = std::thread::scope(|scope| {
        let token_for_cancel = token.clone();
        let emu = &emu;
        scope.spawn(move || {
            let started = Instant::now();
            while emu.draft_ids().is_empty() && started.elapsed() < QUICKLY {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(100));
            token_for_cancel.cancel();
        });
        run(&client, messages, &BatchOptions::default(), Some(&token))
    });
    assert_eq!((result.sent, result.unknown), (0, 0), "{result:#?}");
    assert_eq!(result.cancelled, 6, "{result:#?}");
    assert!(emu.messages().is_empty());
    assert!(
        emu.draft_ids().is_empty(),
        "drafts left: {:?}",
        emu.draft_ids()
    );
    let deleted = emu
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert!(
        deleted >= 1,
        "the drafts under way were deleted: {result:#?}"
    );
}

#[test]
fn batch_documents_and_options_are_checked() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let e = client
        .send_batch_json(r#"{"from":"x"}"#, Vec::new(), None, None, &mut |_| {})
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::InvalidArgument);
    assert!(e.message.contains("JSON array"), "{}", e.message);
    let e = client
        .send_batch_json(
            "[]",
            Vec::new(),
            Some(r#"{"maxConcurrent":0}"#),
            None,
            &mut |_| {},
        )
        .unwrap_err();
    assert!(e.message.contains("maxConcurrent"), "{}", e.message);
    let e = client
        .send_batch_json(
            "[]",
            Vec::new(),
            Some(r#"{"threads":3}"#),
            None,
            &mut |_| {},
        )
        .unwrap_err();
    assert!(e.message.contains("threads"), "{}", e.message);
    let empty = client
        .send_batch_json("[]", Vec::new(), None, None, &mut |_| {})
        .unwrap();
    assert_eq!((empty.total, empty.results.len()), (0, 0));
    assert_eq!(emu.counters().send_mail_requests, 0);
}
