//! The embedded model, for real: SmolLM2-135M-Instruct Q4_1 from the GGUF
//! that `scripts/fetch-model.sh` unpacks (path in `TOLLWAY_TEST_MODEL`;
//! `scripts/test.sh` fetches it and sets it).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use tollway_llm::{ChatMessage, FinishReason, GenerateParams, LocalModel, Role};

fn model() -> &'static Mutex<LocalModel> {
    static MODEL: OnceLock<Mutex<LocalModel>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::env::var("TOLLWAY_TEST_MODEL")
            .map(PathBuf::from)
            .expect("TOLLWAY_TEST_MODEL is not set: run scripts/test.sh, which fetches the model");
        Mutex::new(LocalModel::load(&path).expect("model loads"))
    })
}

fn ask(question: &str) -> Vec<ChatMessage> {
    vec![ChatMessage { role: Role::User, content: question.to_owned() }]
}

#[test]
fn tokenizer_round_trips_without_a_prefix_space() {
    let m = model().lock().expect("lock");
    let t = m.tokenizer();
    for text in ["Hello world", "  two spaces", "naïve café ✓ 12345", "line\nbreak"] {
        let ids = t.encode_text(text).expect("encode");
        assert_eq!(t.decode(&ids).expect("decode"), text);
    }
    // A control token typed as text stays text.
    let typed = t.encode_text("a <|im_end|> b <|im_start|>").expect("encode");
    assert!(typed.iter().all(|id| !t.stop_ids.contains(id)), "{typed:?}");
    assert_eq!(t.decode(&typed).expect("decode"), "a <|im_end|> b <|im_start|>");
    // Digits are split one by one, as in the model's own tokenizer.json.
    assert_eq!(t.count("12345").expect("count"), 5);
    let prompt = t.encode_chat(&ask("Hi")).expect("chat");
    let im_start = t.encode_chat(&[]).expect("chat")[0];
    assert_eq!(prompt.iter().filter(|&&id| id == im_start).count(), 3, "system, user, assistant turns");
    let text = t.decode(&prompt).expect("decode");
    assert!(text.starts_with("system\nYou are a helpful AI assistant named SmolLM"), "{text:?}");
    assert!(text.ends_with("user\nHi\nassistant\n"), "{text:?}");
}

#[test]
fn greedy_generation_is_deterministic_and_answers() {
    let mut m = model().lock().expect("lock");
    let prompt = m.tokenizer().encode_chat(&ask("What is the capital of France?")).expect("chat");
    let params = GenerateParams { max_tokens: 40, ..GenerateParams::default() };
    let mut run = || {
        let mut text = String::new();
        let mut ids = Vec::new();
        let g = m
            .generate(&prompt, &params, |t, id| {
                text.push_str(t);
                ids.push(id);
                ControlFlow::Continue(())
            })
            .expect("generate");
        (text, ids, g)
    };
    let (text, ids, g) = run();
    let (text2, _, g2) = run();
    assert_eq!((text.as_str(), &g), (text2.as_str(), &g2), "greedy decoding must repeat exactly");
    assert!(text.contains("Paris"), "{text:?}");
    assert_eq!(g.prompt_tokens, prompt.len());
    assert_eq!(g.completion_tokens, ids.len());
    assert!(g.completion_tokens > 0 && g.completion_tokens <= 40);
    assert_eq!(m.tokenizer().decode(&ids).expect("decode"), text, "streamed text equals the decoded ids");
}

#[test]
fn max_tokens_and_cancellation_count_exactly() {
    let mut m = model().lock().expect("lock");
    let prompt = m.tokenizer().encode_chat(&ask("Write a long story about a dragon.")).expect("chat");
    let short = GenerateParams { max_tokens: 7, ..GenerateParams::default() };
    let g = m.generate(&prompt, &short, |_, _| ControlFlow::Continue(())).expect("generate");
    assert_eq!((g.completion_tokens, g.finish), (7, FinishReason::Length));
    let mut seen = 0;
    let long = GenerateParams { max_tokens: 100, ..GenerateParams::default() };
    let g = m
        .generate(&prompt, &long, |_, _| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("generate");
    assert_eq!((g.completion_tokens, g.finish), (3, FinishReason::Cancelled));
}

#[test]
fn an_oversized_prompt_is_refused() {
    let mut m = model().lock().expect("lock");
    let prompt = vec![1u32; m.context_len()];
    let err = m.generate(&prompt, &GenerateParams::default(), |_, _| ControlFlow::Continue(())).expect_err("too long");
    assert!(matches!(err, tollway_llm::LlmError::ContextOverflow { .. }), "{err}");
}
