//! Diagnostic logging: a process-wide sink (the C ABI's log callback) plus a per-operation log
//! that goes into result and error documents. Never give it secrets, tokens or assertions.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::cancel::CancelToken;
use crate::mail::gate::MailboxState;

/// Log levels, as the C ABI numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

static SINK: RwLock<Option<(Sink, Level)>> = RwLock::new(None);

/// Installs (or with `None` removes) the process-wide sink; messages above `max_level` are
/// dropped.
pub fn set_sink(sink: Option<Sink>, max_level: Level) {
    *SINK.write() = sink.map(|s| (s, max_level));
}

pub fn emit(level: Level, message: &str) {
    let sink = SINK.read().as_ref().map(|(s, max)| (s.clone(), *max));
    if let Some((sink, max)) = sink
        && level <= max
    {
        sink(level, message);
    }
}

/// The log of one operation: kept for the result document and forwarded to the sink. It also
/// carries the operation's context that every layer needs: the caller's cancel token.
#[derive(Default, Clone)]
pub struct OpLog {
    lines: Vec<String>,
    cancel: Option<CancelToken>,
    /// The sending mailbox, once the send has its slot: throttling answers pause it.
    mailbox: Option<Arc<MailboxState>>,
    /// Time spent waiting on purpose (slots, throttling, backoff) rather than on the network.
    waited: Duration,
}

impl std::fmt::Debug for OpLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpLog")
            .field("lines", &self.lines)
            .field("cancel", &self.cancel)
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

impl OpLog {
    /// The log of an operation its caller may cancel with `cancel`.
    pub fn with_cancel(cancel: Option<CancelToken>) -> OpLog {
        OpLog {
            lines: Vec::new(),
            cancel,
            mailbox: None,
            waited: Duration::ZERO,
        }
    }

    /// From now on the operation sends as this mailbox (see [`OpLog::server_asked_to_wait`]).
    pub(crate) fn set_mailbox(&mut self, mailbox: Arc<MailboxState>) {
        self.mailbox = Some(mailbox);
    }

    /// Graph answered 429 (or 503 with Retry-After) and asked to wait `wait`: the operation's
    /// mailbox, if it has one, holds its other sends that long too.
    pub(crate) fn server_asked_to_wait(&mut self, wait: Duration) {
        if let Some(mailbox) = &self.mailbox {
            mailbox.server_asked_to_wait(wait);
        }
    }

    /// Counts a deliberate wait (a slot, a pause, a retry's backoff).
    pub(crate) fn add_waited(&mut self, wait: Duration) {
        self.waited += wait;
    }

    /// How long the operation waited on purpose so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The operation's cancel token, if its caller can cancel it.
    pub fn cancel(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    pub fn info(&mut self, line: impl Into<String>) {
        self.push(Level::Info, line.into());
    }

    pub fn warn(&mut self, line: impl Into<String>) {
        self.push(Level::Warn, line.into());
    }

    fn push(&mut self, level: Level, line: String) {
        emit(level, &line);
        self.lines.push(line);
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}
