//! Mail: the message model and its Graph JSON, sendMail, and the draft + upload-session path.

pub mod model;
pub mod send;
pub mod upload;
