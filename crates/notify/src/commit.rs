//! Group commit: the events of concurrent requests for one target are written to its
//! queue together, one file and two fsyncs per batch instead of per event. A request's
//! event joins the batch being gathered while the previous one is written, and the
//! request waits until its batch is on disk.

use crate::queue::{Queue, QueueError};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// Most events written in one batch.
const BATCH_EVENTS_MAX: usize = 1024;

/// One event waiting to be written, and who waits for it.
struct Pending {
    message: Vec<u8>,
    done: oneshot::Sender<Result<(), QueueError>>,
}

/// Hands events to a target's writer task.
pub(crate) struct Committer {
    sender: mpsc::UnboundedSender<Pending>,
}

fn stopped() -> QueueError {
    QueueError::Io("the target stopped before the event was written".into())
}

impl Committer {
    /// Starts the writer of `queue`; it wakes `wake` (the delivery task) after each batch.
    pub(crate) fn start(queue: Arc<Queue>, wake: Arc<Notify>) -> (Self, tokio::task::AbortHandle) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(queue, wake, receiver)).abort_handle();
        (Self { sender }, task)
    }

    /// Queues one event (one line of JSON); Ok once it is on disk.
    pub(crate) async fn put(&self, message: Vec<u8>) -> Result<(), QueueError> {
        let (done, result) = oneshot::channel();
        self.sender.send(Pending { message, done }).map_err(|_| stopped())?;
        result.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run(queue: Arc<Queue>, wake: Arc<Notify>, mut receiver: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_EVENTS_MAX {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let messages: Vec<Vec<u8>> = batch.iter_mut().map(|p| std::mem::take(&mut p.message)).collect();
        let writer = Arc::clone(&queue);
        let results = match tokio::task::spawn_blocking(move || writer.put_batch(&messages)).await {
            Ok(results) => results,
            Err(error) => vec![Err(QueueError::Io(error.to_string())); batch.len()],
        };
        debug_assert_eq!(results.len(), batch.len(), "one result per event");
        for (pending, result) in batch.into_iter().zip(results) {
            let _ = pending.done.send(result);
        }
        wake.notify_one();
    }
}
