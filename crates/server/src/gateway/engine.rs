//! The embedded model behind a worker thread: one generation at a time,
//! jobs queued, tokens streamed back over a channel. Dropping the receiver
//! stops the generation at the next token.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;
use tollway_llm::{ChatMessage, ChatTokenizer, GenerateParams, Generation, LlmError, LocalModel};

/// What the worker sends back for one job.
#[derive(Debug)]
pub enum EngineEvent {
    /// One generated token and the text it completes (may be empty).
    Token(String),
    /// The generation ended.
    Done(Generation),
    /// The generation failed.
    Failed(String),
}

struct Job {
    prompt: Vec<u32>,
    params: GenerateParams,
    events: mpsc::Sender<EngineEvent>,
}

/// Handle to the worker; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    jobs: std::sync::mpsc::SyncSender<Job>,
    tokenizer: Arc<ChatTokenizer>,
    context_len: usize,
    /// The model name clients use.
    pub name: String,
}

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Too many requests are waiting for the model.
    #[error("the local model is busy; retry shortly")]
    Busy,
    /// The worker is gone.
    #[error("the local model stopped")]
    Stopped,
}

impl Engine {
    /// Loads the model and starts its worker thread with a queue of
    /// `queue` waiting jobs.
    pub fn start(path: &Path, name: &str, queue: usize) -> Result<Engine, LlmError> {
        let model = LocalModel::load(path)?;
        let tokenizer = Arc::new(model.tokenizer().clone());
        let context_len = model.context_len();
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        std::thread::Builder::new()
            .name("tollway-engine".into())
            .spawn(move || run(model, rx))
            .map_err(|e| LlmError::Inference(format!("cannot start engine thread: {e}")))?;
        Ok(Engine { jobs, tokenizer, context_len, name: name.to_owned() })
    }

    /// The model's tokenizer.
    pub fn tokenizer(&self) -> Arc<ChatTokenizer> {
        self.tokenizer.clone()
    }

    /// The context window in tokens.
    pub fn context_len(&self) -> usize {
        self.context_len
    }

    /// The prompt of a conversation.
    pub fn prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        self.tokenizer.encode_chat(messages)
    }

    /// Queues a generation; events arrive on the returned receiver.
    pub fn generate(&self, prompt: Vec<u32>, params: GenerateParams) -> Result<mpsc::Receiver<EngineEvent>, EngineError> {
        let (events, rx) = mpsc::channel(64);
        self.jobs.try_send(Job { prompt, params, events }).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => EngineError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => EngineError::Stopped,
        })?;
        Ok(rx)
    }
}

fn run(mut model: LocalModel, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        if job.events.is_closed() {
            continue;
        }
        let events = job.events.clone();
        let result = model.generate(&job.prompt, &job.params, |text, _| {
            match events.blocking_send(EngineEvent::Token(text.to_owned())) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        });
        let last = match result {
            Ok(g) => EngineEvent::Done(g),
            Err(e) => EngineEvent::Failed(e.to_string()),
        };
        let _ = job.events.blocking_send(last);
    }
}
