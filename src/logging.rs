//! Diagnostic logging: a process-wide sink (the C ABI's log callback) plus a per-operation log
//! that goes into result and error documents. Never give it secrets, tokens or assertions.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::cancel::CancelToken;

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
#[derive(Debug, Default, Clone)]
pub struct OpLog {
    lines: Vec<String>,
    cancel: Option<CancelToken>,
}

impl OpLog {
    /// The log of an operation its caller may cancel with `cancel`.
    pub fn with_cancel(cancel: Option<CancelToken>) -> OpLog {
        OpLog {
            lines: Vec::new(),
            cancel,
        }
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
