//! Sending many messages at once (docs/contracts.md section 4b): one result per message, in input
//! order, with the outcome vocabulary of a single send plus `cancelled` (never sent).
//!
//! Messages are grouped into lanes by sending mailbox, input order kept within a lane. Each lane
//! runs as many workers as the batch allows per mailbox (default: the client's
//! `sending.maxConcurrentPerMailbox`); every send still goes through the client's send slots,
//! its mailbox's throttling pause and budget ([`crate::mail::gate`]), so a throttled mailbox
//! waits while the others keep going. A message is prepared (its attachment files read) only
//! when it has its slot, so a large batch never holds every attachment in memory.
//!
//! The workers run on the library's runtime; progress is reported from the future that
//! `send_batch` awaits, so a blocking caller gets its progress callback on its own thread, one
//! call at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cancel::CancelToken;
use crate::client::Client;
use crate::error::{Error, ErrorDocument, Outcome, Result, Status};
use crate::mail::message::{MAX_MESSAGE_BYTES, Message, SendResult};

/// A batch's messages are at most this many.
pub const MAX_BATCH_MESSAGES: usize = 100_000;

/// How often a waiting batch reports progress while nothing finishes (a throttling pause).
const PROGRESS_TICK: Duration = Duration::from_millis(250);

/// The options document of `pmp_send_batch` / [`Client::send_batch`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "pmp-mail batch options")]
pub struct BatchOptions {
    /// Sends in flight per sending mailbox for this batch (1..16; default and upper bound: the
    /// client's `sending.maxConcurrentPerMailbox`).
    pub max_concurrent_per_mailbox: Option<u32>,
    /// Sends in flight for this batch in all (1..64; default: the client's
    /// `sending.maxConcurrent`). 1 sends the messages one by one in input order.
    pub max_concurrent: Option<u32>,
    /// Stop at the first message that is `failed` or `unknown` (default false): messages that
    /// have not started are `cancelled` (never sent); sends in flight run to their answer. What a
    /// loop that ends at its first error would do (PowerShell's `-ErrorAction Stop`).
    pub stop_on_failure: Option<bool>,
}

impl BatchOptions {
    pub fn from_json(text: &str) -> Result<BatchOptions> {
        crate::document::parse(text, "batch options", crate::config::MAX_CONFIG_BYTES)
    }
}

/// What happened to one message of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ItemStatus {
    /// Graph accepted it.
    Sent,
    /// Not sent (see `error`).
    Failed,
    /// It may have been sent: an answer was lost (see `error`). It is never sent again.
    Unknown,
    /// The batch was cancelled before this message was sent.
    Cancelled,
}

/// One message's result.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    /// The message's position in the input array (0-based).
    pub index: usize,
    pub status: ItemStatus,
    /// How long the message waited on purpose: for its turn (slots, the mailbox's throttling
    /// pause and budget) and between retries.
    pub waited_ms: u64,
    /// The send result when `status` is `sent`.
    pub result: Option<SendResult>,
    /// The error document otherwise.
    pub error: Option<ErrorDocument>,
}

/// The result document of a batch: counts, then one item per message in input order.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "pmp-mail batch result")]
pub struct BatchResult {
    pub total: usize,
    pub sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub cancelled: usize,
    pub duration_ms: u64,
    pub results: Vec<BatchItem>,
}

/// Where a batch stands, for a progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchProgress {
    pub total: usize,
    /// Messages with a final status (the next four added up).
    pub done: usize,
    pub sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub cancelled: usize,
    /// Messages not done whose mailbox is paused because Graph throttled it.
    pub waiting_for_throttle: usize,
    /// How long the longest such pause still lasts, in milliseconds (0: none).
    pub throttled_for_ms: u64,
}

impl BatchProgress {
    fn count(&mut self, status: ItemStatus) {
        self.done += 1;
        match status {
            ItemStatus::Sent => self.sent += 1,
            ItemStatus::Failed => self.failed += 1,
            ItemStatus::Unknown => self.unknown += 1,
            ItemStatus::Cancelled => self.cancelled += 1,
        }
    }
}

/// Reads a batch document: a JSON array of message documents. The array must parse; a message
/// that does not is that message's failure, not the batch's.
pub fn parse_messages(text: &str) -> Result<Vec<Result<Message>>> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid_argument(format!(
            "the batch document is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
            text.len()
        )));
    }
    let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(|e| {
        Error::invalid_argument(format!(
            "batch document: {} (expected a JSON array of message documents)",
            crate::document::sanitize_serde_error(&e)
        ))
    })?;
    if raw.len() > MAX_BATCH_MESSAGES {
        return Err(Error::invalid_argument(format!(
            "the batch has {} messages; the limit is {MAX_BATCH_MESSAGES}",
            raw.len()
        )));
    }
    Ok(raw
        .into_iter()
        .map(|r| Message::from_json(r.get()))
        .collect())
}

/// The mailbox a message goes out as, for grouping (the gates' key); a
/// message whose `from` does not parse gets a lane of its own and fails when prepared.
fn lane_key(message: &Result<Message>, index: usize) -> String {
    match message {
        Ok(m) => match crate::mail::prepare::parse_mailbox(&m.from) {
            Ok(address) => crate::mail::gate::mailbox_key(&address.address),
            Err(_) => format!("\u{0}invalid#{index}"),
        },
        Err(_) => format!("\u{0}invalid#{index}"),
    }
}

/// The lanes: message indices per sending mailbox, each in input order; lanes in order of
/// their first message. With `one_by_one`, a single lane of everything.
fn lanes(messages: &[Result<Message>], one_by_one: bool) -> Vec<(String, Vec<usize>)> {
    if one_by_one {
        return vec![(String::new(), (0..messages.len()).collect())];
    }
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        let key = lane_key(message, index);
        match position.get(&key) {
            Some(&p) => order[p].1.push(index),
            None => {
                position.insert(key.clone(), order.len());
                order.push((key, vec![index]));
            }
        }
    }
    order
}

fn item(index: usize, result: Result<SendResult>, waited: Duration) -> BatchItem {
    let waited_ms = waited.as_millis() as u64;
    match result {
        Ok(mut sent) => {
            // The result's wait includes the turn the message waited for in the batch, so the
            // two numbers agree (rounded separately they could differ by a millisecond).
            sent.waited_ms = waited_ms;
            BatchItem {
                index,
                status: ItemStatus::Sent,
                waited_ms,
                result: Some(sent),
                error: None,
            }
        }
        Err(e) => {
            let status = match (e.status, e.outcome) {
                (_, Some(Outcome::Unknown)) => ItemStatus::Unknown,
                (Status::Cancelled, _) => ItemStatus::Cancelled,
                _ => ItemStatus::Failed,
            };
            BatchItem {
                index,
                status,
                waited_ms,
                result: None,
                error: Some(e.to_document()),
            }
        }
    }
}

/// Runs a batch on `client` and returns the results in input order. An attachment
/// `{"buffer": n}` of any message is `buffers[n]`. `progress` is called after every finished
/// message and, while a mailbox is throttled, every 250 ms.
pub(crate) async fn run(
    client: &Client,
    messages: Vec<Result<Message>>,
    buffers: Vec<bytes::Bytes>,
    options: &BatchOptions,
    caller_cancel: Option<&CancelToken>,
    progress: &mut dyn FnMut(&BatchProgress),
) -> Result<BatchResult> {
    let started = Instant::now();
    let limits = client.sending_limits();
    let per_mailbox = bounded(
        "maxConcurrentPerMailbox",
        options.max_concurrent_per_mailbox,
        limits.per_mailbox,
        16,
    )?;
    let overall = bounded("maxConcurrent", options.max_concurrent, limits.overall, 64)?;
    let total = messages.len();
    let lanes = lanes(&messages, overall == 1);
    let lane_keys: Vec<String> = lanes.iter().map(|(k, _)| k.clone()).collect();
    let lane_of: Vec<usize> = {
        let mut v = vec![0; total];
        for (lane, (_, indices)) in lanes.iter().enumerate() {
            for &i in indices {
                v[i] = lane;
            }
        }
        v
    };
    let mut remaining_per_lane: Vec<usize> = lanes.iter().map(|(_, ix)| ix.len()).collect();

    let messages: Arc<Vec<parking_lot::Mutex<Option<Result<Message>>>>> = Arc::new(
        messages
            .into_iter()
            .map(|m| parking_lot::Mutex::new(Some(m)))
            .collect(),
    );
    // The batch's own token: the caller's cancel stops it, and so does its first failure with
    // stopOnFailure, without cancelling the caller's token.
    let stop_on_failure = options.stop_on_failure.unwrap_or(false);
    let stopped_at_failure = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancel = caller_cancel.map(CancelToken::child).unwrap_or_default();
    let buffers: Arc<[bytes::Bytes]> = buffers.into();
    let batch_slots = Arc::new(tokio::sync::Semaphore::new(overall));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<BatchItem>();
    let mut workers = tokio::task::JoinSet::new();
    for (_, indices) in lanes {
        let queue = Arc::new(parking_lot::Mutex::new(
            indices
                .into_iter()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        // One worker when the batch goes one by one, so input order is send order.
        let lane_workers = per_mailbox.min(overall).min(queue.lock().len());
        for _ in 0..lane_workers {
            let queue = queue.clone();
            let client = client.clone();
            let messages = messages.clone();
            let cancel = cancel.clone();
            let stopped_at_failure = stopped_at_failure.clone();
            let batch_slots = batch_slots.clone();
            let done_tx = done_tx.clone();
            let buffers = buffers.clone();
            workers.spawn(async move {
                let buffers: Vec<&[u8]> = buffers.iter().map(|b| &b[..]).collect();
                loop {
                    let Some(index) = queue.lock().pop_front() else {
                        return;
                    };
                    let Some(message) = messages[index].lock().take() else {
                        continue;
                    };
                    let (result, waited) = match message {
                        Err(e) => (Err(e.with_outcome(Outcome::Failed)), Duration::ZERO),
                        Ok(message) => {
                            // The batch's own limit first (it never sends anything).
                            let turn_started = Instant::now();
                            match cancel.run(batch_slots.acquire()).await {
                                Ok(Ok(_permit)) => {
                                    let queued = turn_started.elapsed();
                                    let (result, waited) =
                                        client.send_one(&message, &buffers, Some(&cancel)).await;
                                    (result, waited + queued)
                                }
                                _ => (
                                    Err(Error::cancelled("waiting for a batch slot")
                                        .with_outcome(Outcome::Failed)),
                                    turn_started.elapsed(),
                                ),
                            }
                        }
                    };
                    let mut done = item(index, result, waited);
                    if stop_on_failure {
                        if matches!(done.status, ItemStatus::Failed | ItemStatus::Unknown) {
                            // Before this worker takes its next message, so nothing starts
                            // after the failure.
                            stopped_at_failure.store(true, std::sync::atomic::Ordering::SeqCst);
                            cancel.cancel();
                        } else if done.status == ItemStatus::Cancelled
                            && stopped_at_failure.load(std::sync::atomic::Ordering::SeqCst)
                        {
                            done.error = Some(stopped_by_failure().to_document());
                        }
                    }
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
    }
    drop(done_tx);

    let mut results: Vec<Option<BatchItem>> = vec![None; total];
    let mut counts = BatchProgress {
        total,
        ..BatchProgress::default()
    };
    let mut ticker = tokio::time::interval(PROGRESS_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_reported: Option<BatchProgress> = None;
    // Reports when the numbers changed: after a finished message, and while a mailbox is
    // throttled (its pause shrinks every tick).
    let mut report = |counts: &BatchProgress, remaining: &[usize]| {
        let mut now = *counts;
        for (lane, key) in lane_keys.iter().enumerate() {
            if remaining[lane] == 0 {
                continue;
            }
            if let Some(left) = client.paused_for(key) {
                now.waiting_for_throttle += remaining[lane];
                now.throttled_for_ms = now.throttled_for_ms.max(left.as_millis() as u64);
            }
        }
        if last_reported != Some(now) {
            progress(&now);
            last_reported = Some(now);
        }
    };
    // The caller learns the total before any result.
    report(&counts, &remaining_per_lane);
    loop {
        tokio::select! {
            finished = done_rx.recv() => match finished {
                Some(done) => {
                    counts.count(done.status);
                    remaining_per_lane[lane_of[done.index]] -= 1;
                    let index = done.index;
                    results[index] = Some(done);
                    report(&counts, &remaining_per_lane);
                }
                None => break,
            },
            _ = ticker.tick() => report(&counts, &remaining_per_lane),
        }
    }
    // Every worker has returned (the channel closed); a panicked one is reported per message.
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            crate::logging::emit(
                crate::logging::Level::Error,
                &format!("a batch worker failed: {e}"),
            );
        }
    }
    let results: Vec<BatchItem> = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            r.unwrap_or_else(|| {
                // A worker that stopped (a panic) may have sent its message: say so.
                counts.count(ItemStatus::Unknown);
                BatchItem {
                    index,
                    status: ItemStatus::Unknown,
                    waited_ms: 0,
                    result: None,
                    error: Some(
                        Error::internal("the message's worker stopped before reporting it")
                            .with_outcome(Outcome::Unknown)
                            .to_document(),
                    ),
                }
            })
        })
        .collect();
    Ok(BatchResult {
        total,
        sent: counts.sent,
        failed: counts.failed,
        unknown: counts.unknown,
        cancelled: counts.cancelled,
        duration_ms: started.elapsed().as_millis() as u64,
        results,
    })
}

/// Why a message was not sent when an earlier one failed under stopOnFailure.
fn stopped_by_failure() -> Error {
    Error::new(
        Status::Cancelled,
        "not sent: the batch stopped at its first failed message (stopOnFailure)",
    )
    .with_outcome(Outcome::Failed)
    .with_remedy("Nothing was sent for this message; fix the failure reported for the earlier message and send it again.")
}

/// A batch limit: absent → the client's; never above the client's (the client's slots would
/// hold the extra workers anyway) nor outside 1..=max.
fn bounded(field: &str, value: Option<u32>, client: usize, max: u32) -> Result<usize> {
    match value {
        None => Ok(client),
        Some(v) if (1..=max).contains(&v) => Ok((v as usize).min(client)),
        Some(v) => Err(Error::invalid_argument(format!(
            "batch options: {field} must be 1 to {max} (got {v})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(from: &str) -> Result<Message> {
        Ok(Message {
            from: from.into(),
            ..Message::default()
        })
    }

    #[test]
    fn lanes_group_by_mailbox_in_input_order() {
        let m = vec![
            message("a@contoso.com"),
            message("B <b@contoso.com>"),
            message("A@CONTOSO.com"),
            Err(Error::invalid_argument("bad")),
            message("b@contoso.com"),
        ];
        let grouped = lanes(&m, false);
        let indices: Vec<Vec<usize>> = grouped.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(indices, vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert_eq!(lanes(&m, true), vec![(String::new(), vec![0, 1, 2, 3, 4])]);
    }

    #[test]
    fn outcomes_map_to_item_statuses() {
        let unknown = Error::new(Status::Network, "lost").with_outcome(Outcome::Unknown);
        assert_eq!(
            item(0, Err(unknown), Duration::ZERO).status,
            ItemStatus::Unknown
        );
        // A cancel after an attempt that may have been delivered is still unknown.
        let cancelled_after_unknown = Error::cancelled("x").with_outcome(Outcome::Unknown);
        assert_eq!(
            item(0, Err(cancelled_after_unknown), Duration::ZERO).status,
            ItemStatus::Unknown
        );
        let cancelled = Error::cancelled("x").with_outcome(Outcome::Failed);
        assert_eq!(
            item(0, Err(cancelled), Duration::ZERO).status,
            ItemStatus::Cancelled
        );
        let failed = Error::invalid_argument("x").with_outcome(Outcome::Failed);
        let it = item(3, Err(failed), Duration::from_millis(1500));
        assert_eq!(
            (it.status, it.index, it.waited_ms),
            (ItemStatus::Failed, 3, 1500)
        );
    }

    #[test]
    fn batch_documents_parse_per_message() {
        let parsed =
            parse_messages(r#"[{"from":"a@contoso.com"},{"from":"b@contoso.com","bogus":1}]"#)
                .unwrap();
        assert!(parsed[0].is_ok());
        assert!(parsed[1].as_ref().unwrap_err().message.contains("bogus"));
        let e = parse_messages(r#"{"from":"a@contoso.com"}"#).unwrap_err();
        assert!(e.message.contains("JSON array"), "{}", e.message);
        assert!(parse_messages("[]").unwrap().is_empty());
    }

    #[test]
    fn batch_limits_are_bounded_by_the_clients() {
        assert_eq!(bounded("m", None, 4, 16).unwrap(), 4);
        assert_eq!(bounded("m", Some(1), 4, 16).unwrap(), 1);
        assert_eq!(bounded("m", Some(8), 4, 16).unwrap(), 4);
        assert!(bounded("m", Some(0), 4, 16).is_err());
        assert!(bounded("m", Some(17), 4, 16).is_err());
    }
}
