//! The spool channel: the default when no provider is configured. Each
//! message becomes a readable file under `<data_dir>/outbox/`, so a newcomer
//! sees exactly what would have been sent.

use std::path::PathBuf;

use crate::notify::delivery::channel::{
    EmailMessage, EmailSender, Outcome, SendFuture, SmsMessage, SmsProvider,
};
use crate::notify::delivery::segments;

pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir }
    }

    pub(in crate::notify::delivery) async fn write(
        &self,
        name: String,
        content: String,
    ) -> Outcome {
        if let Err(e) = tokio::fs::create_dir_all(&self.dir).await {
            return Outcome::Transient(format!("cannot create {}: {e}", self.dir.display()));
        }
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        // Write then rename, so a reader never sees half a message.
        if let Err(e) = tokio::fs::write(&tmp, content.as_bytes()).await {
            return Outcome::Transient(format!("cannot write {}: {e}", tmp.display()));
        }
        match tokio::fs::rename(&tmp, &path).await {
            Ok(()) => Outcome::Sent {
                provider_id: format!("spool:{name}"),
            },
            Err(e) => Outcome::Transient(format!("cannot write {}: {e}", path.display())),
        }
    }
}

impl SmsProvider for Spool {
    fn name(&self) -> &'static str {
        "spool"
    }
    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let seg = segments::count(&msg.text);
            let content = format!(
                "Channel: SMS\nTo: {}\nReference: {}\nEncoding: {:?}, {} units, {} part(s)\n\n{}\n",
                msg.to, msg.reference, seg.encoding, seg.units, seg.parts, msg.text
            );
            self.write(format!("{:0>8}-sms.txt", msg.reference), content)
                .await
        })
    }
}

impl EmailSender for Spool {
    fn name(&self) -> &'static str {
        "spool"
    }
    fn send<'a>(&'a self, msg: &'a EmailMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let content = format!(
                "Channel: e-mail\nTo: {} <{}>\nReference: {}\nSubject: {}\n\n{}\n",
                msg.to_name, msg.to, msg.reference, msg.subject, msg.text
            );
            self.write(format!("{:0>8}-email.txt", msg.reference), content)
                .await
        })
    }
}
