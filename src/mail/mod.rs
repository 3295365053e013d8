//! Mail: the message document ([`message`]), its validation and the attachment files
//! ([`prepare`]), Graph's JSON ([`wire`]), and the two ways a message goes out — one sendMail
//! request ([`send`]) or a draft with upload sessions ([`upload`]) — both on the Graph-call
//! floor ([`graph`]).

pub(crate) mod gate;
pub(crate) mod graph;
pub(crate) mod message;
pub(crate) mod prepare;
pub(crate) mod send;
pub(crate) mod upload;
pub(crate) mod wire;

pub(crate) use message::{Message, SendResult};

use crate::error::Result;
use crate::logging::OpLog;
use graph::GraphSession;
use prepare::PreparedMessage;

/// Sends a prepared message the way the size policy ([`send::route`]) picks, in its send slot
/// ([`gate`]): the slot's mailbox hears about any throttling on the way.
pub(crate) async fn send_in_slot(
    session: &GraphSession,
    message: &PreparedMessage,
    slot: &gate::SendSlot,
    log: &mut OpLog,
) -> Result<SendResult> {
    log.set_mailbox(slot.mailbox());
    let route = send::route(message, log)?;
    match route {
        send::Route::SendMail(body) => send::send_mail(session, message, body, log).await,
        send::Route::Draft => upload::send_via_draft(session, message, log).await,
    }
}
