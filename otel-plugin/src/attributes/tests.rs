//! The mapping of payloads to attributes, under the capture switches.

use super::*;
use opentelemetry::Value;

#[test]
fn hidden_inputs_and_outputs_leave_no_trace() {
    let config = OtelConfig {
        capture_content: true,
        hide_inputs: true,
        hide_outputs: true,
        ..OtelConfig::default()
    };
    let mapper = Mapper::new(&config);
    let mut out = mapper.values();
    mapper.prompt(&mut out, "secret prompt");
    mapper.messages(&mut out, &[ChatMessage::user("secret chat")]);
    mapper.chain_start(&mut out, &serde_json::json!({"q": "secret"}));
    mapper.llm_end(&mut out, &LlmResult::from_text("secret answer"));
    mapper.documents(&mut out, &[Document::new("secret document")]);
    let mut all = out.to_key_values();
    all.extend(
        mapper
            .agent_action("calc", &serde_json::json!("secret"), "secret plan")
            .to_key_values(),
    );
    all.extend(
        mapper
            .agent_finish(&serde_json::json!("secret"), "secret log")
            .to_key_values(),
    );
    let leaked: Vec<_> = all
        .iter()
        .filter(|kv| kv.value.as_str().contains("secret"))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn documents_carry_content_id_score_and_metadata() {
    let config = OtelConfig {
        capture_content: true,
        ..OtelConfig::default()
    };
    let mapper = Mapper::new(&config);
    let mut out = mapper.values();
    let document = Document::new("Venus")
        .with_id("d1")
        .with_metadata("score", 0.5);
    mapper.documents(&mut out, &[document]);
    let all = out.to_key_values();
    let get = |key: &str| {
        all.iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(
        get("retrieval.documents.0.document.content").as_deref(),
        Some("Venus")
    );
    assert_eq!(
        get("retrieval.documents.0.document.id").as_deref(),
        Some("d1")
    );
    assert_eq!(
        get("retrieval.documents.0.document.score").as_deref(),
        Some("0.5")
    );
    assert_eq!(
        get("retrieval.documents.0.document.metadata").as_deref(),
        Some(r#"{"score":0.5}"#)
    );
}

#[test]
fn a_chat_conversation_is_json_input_and_indexed_messages() {
    let config = OtelConfig {
        capture_content: true,
        ..OtelConfig::default()
    };
    let mapper = Mapper::new(&config);
    let mut out = mapper.values();
    mapper.messages(
        &mut out,
        &[ChatMessage::system("be brief"), ChatMessage::user("hi")],
    );
    assert_eq!(
        out.get(k::INPUT_MIME_TYPE),
        Some(Value::from("application/json"))
    );
    let input = out.get(k::INPUT_VALUE).map(|v| v.as_str().into_owned());
    let parsed: Json = serde_json::from_str(&input.unwrap_or_default()).unwrap_or_default();
    assert_eq!(parsed[1]["content"], "hi");
    let all = out.to_key_values();
    let role = all
        .iter()
        .find(|kv| kv.key.as_str() == "llm.input_messages.1.message.role")
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(role.as_deref(), Some("user"));
}
