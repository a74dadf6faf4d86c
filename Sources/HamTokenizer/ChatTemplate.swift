/// A model's Jinja chat template, recognised by family the way llama.cpp's
/// `llm_chat_detect_template` does (by the markers it contains, in llama.cpp's order), and
/// turned into the `ChatFormat` that writes the same prompts.
///
/// hamrun implements the ChatML and Llama 3 families (and Llama 3.2's variant of the latter).
/// A template of another family, or of none llama.cpp knows, is an error naming it; a format
/// can then be chosen by name instead (`ChatFormatName`).
public enum ChatTemplate {
    /// llama.cpp's name for the template's family ("chatml", "llama3", "mistral-v7", ...), or
    /// nil when llama.cpp would not recognise it. A template that is exactly a family's name
    /// is that family, as in llama.cpp.
    public static func family(of template: String) -> String? {
        if knownFamilies.contains(template) { return template }
        func has(_ s: String) -> Bool { template.contains(s) }
        if has("<|im_start|>") {
            return has("<|im_sep|>") ? "phi4" : has("<end_of_utterance>") ? "smolvlm" : "chatml"
        }
        if template.hasPrefix("mistral") || has("[INST]") {
            if has("[SYSTEM_PROMPT]") { return "mistral-v7" }
            if has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]") {
                return has(" [INST]") ? "mistral-v1" : has("\"[INST]\"") ? "mistral-v3-tekken" : "mistral-v3"
            }
            if has("content.strip()") { return "llama2-sys-strip" }
            if has("bos_token + '[INST]") { return "llama2-sys-bos" }
            return has("<<SYS>>") ? "llama2-sys" : "llama2"
        }
        if has("<|assistant|>") && has("<|end|>") { return "phi3" }
        if has("[gMASK]<sop>") { return "chatglm4" }
        if has("<|assistant|>") && has("<|user|>") {
            if has("<|tool_declare|>") { return "exaone-moe" }
            return has("</s>") ? "falcon3" : "glmedge"
        }
        if has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>") { return "glmedge" }
        if has("<|user|>") && has("<|endoftext|>") { return "zephyr" }
        if has("bos_token + message['role']") { return "monarch" }
        if has("<start_of_turn>") { return "gemma" }
        if has("'\\n\\nAssistant: ' + eos_token") { return "orion" }
        if has("GPT4 Correct ") { return "openchat" }
        if has("USER: ") && has("ASSISTANT: ") { return has("SYSTEM: ") ? "vicuna-orca" : "vicuna" }
        if has("### Instruction:") && has("<|EOT|>") { return "deepseek" }
        if has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>") { return "command-r" }
        if has("<|start_header_id|>") && has("<|end_header_id|>") { return "llama3" }
        if has("[gMASK]sop") { return "chatglm3" }
        if has("<用户>") { return "minicpm" }
        if has("'Assistant: ' + message['content'] + eos_token") { return "deepseek2" }
        if has("<｜Assistant｜>") && has("<｜User｜>") && has("<｜end▁of▁sentence｜>") { return "deepseek3" }
        if has("[|system|]") && has("[|assistant|]") && has("[|endofturn|]") {
            return has("[|tool|]") ? "exaone4" : "exaone3"
        }
        if has("rwkv-world") || has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}") { return "rwkv-world" }
        if has("<|start_of_role|>") {
            if has("<tool_call>") || has("<tools>") { return has("g4_default_system_message") ? "granite-4.0" : "granite-4.1" }
            return "granite"
        }
        if has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]") {
            return "gigachat"
        }
        if has("<|role_start|>") { return "megrez" }
        if has(" Ассистент:") { return "yandex" }
        if has("<role>ASSISTANT</role>") && has("'HUMAN'") { return "bailing" }
        if has("<role>ASSISTANT</role>") && has("\"HUMAN\"") && has("<think>") { return "bailing-think" }
        if has("<role>ASSISTANT</role>") && has("<role>HUMAN</role>") && has("<|role_end|>") { return "bailing2" }
        if has("<|header_start|>") && has("<|header_end|>") { return "llama4" }
        if has("<|endofuserprompt|>") { return "dots1" }
        if has("<|extra_0|>") && has("<|extra_4|>") { return "hunyuan-moe" }
        if has("<|start|>") && has("<|channel|>") { return "gpt-oss" }
        if has("<｜hy_Assistant｜>") && has("<｜hy_begin▁of▁sentence｜>") { return "hunyuan-vl" }
        if has("<｜hy_Assistant｜>") && has("<｜hy_place▁holder▁no▁3｜>") { return "hunyuan-dense" }
        if has("<|im_assistant|>assistant<|im_middle|>") { return "kimi-k2" }
        if has("<seed:bos>") { return "seed_oss" }
        if has("'Assistant: '  + message['content'] + '<|separator|>") { return "grok-2" }
        if has("[unused9]系统：[unused10]") { return "pangu-embedded" }
        if has("<|begin|>") && has("<|end|>") && has("<|content|>") { return "solar-open" }
        return nil
    }

    /// llama.cpp's template names (`LLM_CHAT_TEMPLATES`).
    static let knownFamilies: Set<String> = [
        "chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3",
        "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "falcon3", "zephyr", "monarch",
        "gemma", "orion", "openchat", "vicuna", "vicuna-orca", "deepseek", "deepseek2", "deepseek3", "deepseek-ocr",
        "command-r", "llama3", "chatglm3", "chatglm4", "glmedge", "minicpm", "exaone3", "exaone4", "exaone-moe",
        "rwkv-world", "granite", "granite-4.0", "granite-4.1", "gigachat", "megrez", "yandex", "bailing",
        "bailing-think", "bailing2", "llama4", "smolvlm", "hunyuan-moe", "gpt-oss", "hunyuan-dense", "hunyuan-vl",
        "kimi-k2", "seed_oss", "grok-2", "pangu-embedded", "solar-open",
    ]

    /// The format a template writes. No template means plain text continuation (models made
    /// for that, like the embedded one); a template hamrun cannot write is an error naming its
    /// family. `source` and `field` say where the template came from, for that message.
    /// `date` is what the Llama 3.2 template writes as today's date.
    public static func format(_ template: String?, source: String, field: String, date: String) throws -> ChatFormat {
        guard let template else { return .plainText }
        switch family(of: template) {
        case "chatml":
            return .chatML(defaultSystem: defaultSystemMessage(template))
        case "llama3":
            return template.contains("Cutting Knowledge Date") ? .llama32(date: date) : .llama3
        case let family:
            throw TokenizerError.unsupportedChatTemplate(source: source, field: field, family: family)
        }
    }

    /// The format a `--chat-format` name asks for; ChatML keeps the template's default system
    /// message when there is a ChatML template to take it from.
    public static func format(named name: ChatFormatName, template: String?, date: String) -> ChatFormat {
        switch name {
        case .plain: return .plainText
        case .llama3: return .llama3
        case .llama32: return .llama32(date: date)
        case .chatml: return .chatML(defaultSystem: template.flatMap(defaultSystemMessage))
        }
    }

    /// The system message a ChatML template writes when the conversation has none: the text of
    /// a string literal `'<|im_start|>system\n…<|im_end|>…'` (SmolLM2's "You are a helpful AI
    /// assistant named SmolLM, trained by Hugging Face", Qwen2.5's "You are Qwen, ...").
    static func defaultSystemMessage(_ template: String) -> String? {
        let opening = "<|im_start|>system\n"
        for literal in stringLiterals(template) {
            guard literal.hasPrefix(opening), let end = literal.range(of: "<|im_end|>") else { continue }
            return String(literal[literal.index(literal.startIndex, offsetBy: opening.count)..<end.lowerBound])
        }
        return nil
    }

    /// The string literals of a Jinja template, unescaped (inside `{{ }}` and `{% %}` only:
    /// text outside them is output, not literals).
    static func stringLiterals(_ template: String) -> [String] {
        var out: [String] = []
        let s = Array(template.unicodeScalars)
        var i = 0
        var inCode = false
        while i < s.count {
            if !inCode {
                if s[i] == "{" && i + 1 < s.count && (s[i + 1] == "{" || s[i + 1] == "%") { inCode = true; i += 2; continue }
                i += 1
                continue
            }
            if (s[i] == "}" || s[i] == "%") && i + 1 < s.count && s[i + 1] == "}" { inCode = false; i += 2; continue }
            guard s[i] == "'" || s[i] == "\"" else { i += 1; continue }
            let quote = s[i]
            var literal = String.UnicodeScalarView()
            i += 1
            while i < s.count && s[i] != quote {
                if s[i] == "\\" && i + 1 < s.count {
                    i += 1
                    switch s[i] {
                    case "n": literal.append("\n")
                    case "t": literal.append("\t")
                    case "r": literal.append("\r")
                    default: literal.append(s[i])
                    }
                } else {
                    literal.append(s[i])
                }
                i += 1
            }
            i += 1
            out.append(String(literal))
        }
        return out
    }
}

/// The chat formats by the names `--chat-format` takes.
public enum ChatFormatName: String, CaseIterable, Sendable {
    case plain, chatml, llama3, llama32
}
