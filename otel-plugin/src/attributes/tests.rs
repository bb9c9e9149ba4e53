//! The mapping of payloads to attributes, under the capture switches.

use super::*;
use opentelemetry::Value;

/// The string values one mapping call writes.
type Emit = fn(&Mapper<'_>) -> Vec<String>;

fn strings(values: &Values) -> Vec<String> {
    values
        .to_key_values()
        .iter()
        .map(|kv| kv.value.as_str().into_owned())
        .collect()
}

fn with_values(mapper: &Mapper<'_>, write: impl FnOnce(&mut Values)) -> Vec<String> {
    let mut out = mapper.values();
    write(&mut out);
    strings(&out)
}

/// Each mapping call that carries content, and the part its content belongs to.
const CONTENT: [(&str, Part, Emit); 13] = [
    ("prompt", Part::Input, |m| {
        with_values(m, |out| m.prompt(out, "secret prompt"))
    }),
    ("messages", Part::Input, |m| {
        with_values(m, |out| {
            m.messages(out, &[ChatMessage::user("secret chat")])
        })
    }),
    ("chain inputs", Part::Input, |m| {
        with_values(m, |out| {
            m.chain_start(out, &serde_json::json!({"q": "secret"}))
        })
    }),
    ("retriever query", Part::Input, |m| {
        with_values(m, |out| m.retriever_start(out, "secret query"))
    }),
    ("tool input", Part::Input, |m| {
        with_values(m, |out| {
            m.tool_start(out, "calc", None, "secret input", None)
        })
    }),
    ("agent action", Part::Input, |m| {
        strings(&m.agent_action("calc", &serde_json::json!("secret"), "secret plan"))
    }),
    ("outputs", Part::Output, |m| {
        with_values(m, |out| m.outputs(out, &serde_json::json!({"a": "secret"})))
    }),
    ("model answer", Part::Output, |m| {
        with_values(m, |out| {
            m.llm_end(out, &LlmResult::from_text("secret answer"))
        })
    }),
    ("documents", Part::Output, |m| {
        with_values(m, |out| {
            m.documents(out, &[Document::new("secret document")])
        })
    }),
    ("agent finish", Part::Output, |m| {
        strings(&m.agent_finish(&serde_json::json!("secret"), "secret log"))
    }),
    ("printed text", Part::Output, |m| {
        strings(&m.text_event("secret text"))
    }),
    ("custom event data", Part::Other, |m| {
        strings(&m.custom_event("step", &serde_json::json!({"a": "secret"})))
    }),
    ("error message", Part::Other, |m| {
        let (status, mut values) = m.failure(&ErrorInfo::new("Timeout", "secret message"));
        let mut all = strings(&values);
        values.text("status", &format!("{status:?}"));
        all.extend(strings(&values));
        all
    }),
];

#[test]
fn each_hiding_switch_hides_its_part_and_only_its_part() {
    // (capture, hide inputs, hide outputs) and whether inputs, outputs show.
    let switches = [
        ((true, false, false), (true, true)),
        ((true, true, false), (false, true)),
        ((true, false, true), (true, false)),
        ((true, true, true), (false, false)),
        ((false, false, false), (false, false)),
    ];
    for ((capture_content, hide_inputs, hide_outputs), (inputs, outputs)) in switches {
        let config = OtelConfig {
            capture_content,
            hide_inputs,
            hide_outputs,
            ..OtelConfig::default()
        };
        let mapper = Mapper::new(&config);
        for (call, part, emit) in CONTENT {
            let shows = match part {
                Part::Input => inputs,
                Part::Output => outputs,
                Part::Other => inputs && outputs,
            };
            let secrets: Vec<_> = emit(&mapper)
                .into_iter()
                .filter(|value| value.contains("secret"))
                .collect();
            assert_eq!(
                !secrets.is_empty(),
                shows,
                "{call} with capture {capture_content}, hide inputs {hide_inputs}, \
                 hide outputs {hide_outputs}: {secrets:?}"
            );
        }
    }
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

#[test]
fn each_kind_has_its_openinference_name_and_default_span_name() {
    let kinds = [
        (SpanKind::Chain, "CHAIN", "chain"),
        (SpanKind::Llm, "LLM", "llm"),
        (SpanKind::Tool, "TOOL", "tool"),
        (SpanKind::Retriever, "RETRIEVER", "retriever"),
        (SpanKind::Agent, "AGENT", "agent"),
        (SpanKind::Evaluator, "EVALUATOR", "evaluation"),
    ];
    for (kind, openinference, span_name) in kinds {
        assert_eq!(kind.as_str(), openinference);
        assert_eq!(kind.default_name(), span_name);
    }
}

#[test]
fn each_role_is_named_in_the_indexed_messages() {
    use handler_core::payload::Role;
    let config = OtelConfig {
        capture_content: true,
        ..OtelConfig::default()
    };
    let mapper = Mapper::new(&config);
    let roles = [
        (Role::System, "system"),
        (Role::User, "user"),
        (Role::Assistant, "assistant"),
        (Role::Tool, "tool"),
        (Role::Function, "function"),
        (Role::Other("critic".into()), "critic"),
    ];
    let messages: Vec<_> = roles
        .iter()
        .map(|(role, _)| ChatMessage::new(role.clone(), "text"))
        .collect();
    let mut out = mapper.values();
    mapper.messages(&mut out, &messages);
    let all = out.to_key_values();
    for (i, (_, name)) in roles.iter().enumerate() {
        let key = format!("llm.input_messages.{i}.message.role");
        let role = all
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned());
        assert_eq!(role.as_deref(), Some(*name), "{key}");
    }
}
