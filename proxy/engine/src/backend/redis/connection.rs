//! One multiplexed, pipelined connection to Redis.
//!
//! A single task owns the socket. Callers hand it a command and a oneshot sender; it
//! writes every command waiting at that moment in one syscall and keeps the senders in
//! a FIFO: Redis answers in order, so each complete reply resolves the oldest sender.
//! When the connection fails (closed, read/write error, protocol error, or a caller's
//! timeout aborting it), the reason is recorded and every waiting caller sees its
//! sender dropped; the connection is never reused after that.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::resp::{self, Value};

/// Read buffer growth step: one read takes what a batch reply of ~50 items sends.
const READ_CHUNK: usize = 16 * 1024;

type Reply = oneshot::Sender<Value>;

pub struct Connection {
    commands: mpsc::UnboundedSender<(Bytes, Reply)>,
    failure: Arc<Mutex<Option<String>>>,
    task: AbortHandle,
}

impl Connection {
    /// Serves `stream` on a new task (call within a tokio runtime).
    pub fn start(stream: TcpStream) -> Self {
        let (commands, queue) = mpsc::unbounded_channel();
        let failure = Arc::new(Mutex::new(None));
        let task = tokio::spawn(run(stream, queue, failure.clone())).abort_handle();
        Self { commands, failure, task }
    }

    /// Queues one command; the receiver gets its reply, or is dropped if the
    /// connection fails first (`failure` then says why).
    pub fn send(&self, command: Bytes) -> Result<oneshot::Receiver<Value>, String> {
        let (tx, rx) = oneshot::channel();
        self.commands.send((command, tx)).map_err(|_| self.failure())?;
        Ok(rx)
    }

    pub fn is_open(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Why the connection ended.
    pub fn failure(&self) -> String {
        self.failure.lock().clone().unwrap_or_else(|| "the connection was lost".into())
    }

    /// Ends the connection now, failing every waiting caller with `reason`.
    pub fn abort(&self, reason: String) {
        self.failure.lock().get_or_insert(reason);
        self.task.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    stream: TcpStream,
    mut queue: mpsc::UnboundedReceiver<(Bytes, Reply)>,
    failure: Arc<Mutex<Option<String>>>,
) {
    let mut waiting = VecDeque::new();
    let reason = serve(stream, &mut queue, &mut waiting).await;
    // Record why before dropping the senders: woken callers read it.
    failure.lock().get_or_insert(reason);
    drop(waiting);
    queue.close();
    while queue.try_recv().is_ok() {}
}

/// Moves commands out and replies in until the connection fails; returns why.
async fn serve(
    stream: TcpStream,
    queue: &mut mpsc::UnboundedReceiver<(Bytes, Reply)>,
    waiting: &mut VecDeque<Reply>,
) -> String {
    let (mut reader, mut writer) = stream.into_split();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::new();
    loop {
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        tokio::select! {
            command = queue.recv() => {
                let Some((bytes, reply)) = command else { return "the connection was closed".into() };
                output.extend_from_slice(&bytes);
                waiting.push_back(reply);
                // Everything queued meanwhile goes out in the same write.
                while let Ok((bytes, reply)) = queue.try_recv() {
                    output.extend_from_slice(&bytes);
                    waiting.push_back(reply);
                }
                if let Err(err) = writer.write_all(&output).await {
                    return format!("writing to the server failed: {err}");
                }
                output.clear();
            }
            read = reader.read_buf(&mut input) => {
                match read {
                    Ok(0) => return "the server closed the connection".into(),
                    Ok(_) => {}
                    Err(err) => return format!("reading from the server failed: {err}"),
                }
                loop {
                    let len = match resp::frame_len(&input) {
                        Ok(Some(len)) => len,
                        Ok(None) => break,
                        Err(err) => return err.to_string(),
                    };
                    let value = resp::decode(&input[..len]);
                    input.advance(len);
                    let Some(reply) = waiting.pop_front() else {
                        return "the server sent a reply nobody asked for".into();
                    };
                    // The caller may have given up (cancelled): its reply is dropped.
                    let _ = reply.send(value);
                }
            }
        }
    }
}
