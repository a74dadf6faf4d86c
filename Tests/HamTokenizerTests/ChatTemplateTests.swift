import Foundation
import Testing
@testable import HamTokenizer

/// Chat templates recognised by family as llama.cpp does, and the ChatML format against
/// SmolLM2's template rendered by Jinja2 and tokenized by llama.cpp.
@Suite struct ChatTemplateTests {
    static let smollm2Template: String = {
        (try? Fixtures.vocabulary("smollm2-tokenizer/vocabulary.json").chatTemplate) ?? ""
    }()

    @Test func smollm2TemplateIsChatMLWithItsDefaultSystemMessage() throws {
        #expect(ChatTemplate.family(of: Self.smollm2Template) == "chatml")
        let format = try ChatTemplate.format(Self.smollm2Template, source: "m.gguf", field: "tokenizer.chat_template", date: "x")
        #expect(format == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
    }

    @Test func promptsMatchJinjaAndLlamaCpp() throws {
        let root = try #require(try Fixtures.json("smollm2-tokenizer/chat.json") as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count == 16)
        let chat = try ChatFormatter(tokenizer: Fixtures.smollm2,
                                     format: try ChatTemplate.format(Self.smollm2Template, source: "", field: "", date: ""))
        for c in cases {
            let messages = try #require(c["messages"] as? [[String: String]]).map { m in
                let role = try #require(m["role"])
                return ChatMessage(try #require(ChatMessage.Role(rawValue: role)), try #require(m["content"]))
            }
            let gen = try #require(c["add_generation_prompt"] as? Bool)
            let ids = try #require(c["ids"] as? [Int]).map { Int32($0) }
            let text = try #require(c["text"] as? String)
            #expect(chat.text(messages, addGenerationPrompt: gen) == text)
            // Content holding special-token text is the one place the two differ: hamrun never
            // parses message text as special tokens.
            if messages.contains(where: { $0.content.contains("<|im_end|>") }) {
                #expect(chat.prompt(messages, addGenerationPrompt: gen) != ids)
            } else {
                #expect(chat.prompt(messages, addGenerationPrompt: gen) == ids, "\(messages) \(gen)")
            }
        }
    }

    /// What a REPL appends after the model's reply equals the difference between the prompts
    /// with and without the new turn.
    @Test func chatMLNextTurnExtendsTheCachedConversation() throws {
        let tok = Fixtures.smollm2
        let chat = try ChatFormatter(tokenizer: tok, format: .chatML(defaultSystem: "Be nice."))
        let history: [ChatMessage] = [.user("Hello there")]
        let reply = "General Kenobi! 😀"
        let cached = chat.prompt(history) + tok.encode(reply, addSpecialTokens: false)
        let full = chat.prompt(history + [.assistant(reply), .user(" And then? ")])
        #expect(cached + chat.nextTurn(user: " And then? ") == full)
        #expect(cached + [2] + chat.nextTurn(user: " And then? ", closingAssistantTurn: false) == full)
        #expect(chat.endOfTurnTokenIds == [2, 0, 4])
    }

    @Test(arguments: [
        ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}", "chatml"),
        ("<|im_start|>x<|im_sep|>", "phi4"),
        ("{{ bos_token }}<|start_header_id|>user<|end_header_id|>", "llama3"),
        ("[INST] <<SYS>> hi", "llama2-sys"),
        ("{{ '[SYSTEM_PROMPT]' }}[INST]", "mistral-v7"),
        ("<start_of_turn>user", "gemma"),
        ("<|user|>hi<|end|><|assistant|>", "phi3"),
        ("llama3", "llama3"),
        ("chatml", "chatml"),
    ])
    func familyAsLlamaCppNamesIt(template: String, family: String) {
        #expect(ChatTemplate.family(of: template) == family)
    }

    @Test func llama32TemplateWritesTheDatePreamble() throws {
        let t = "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023"
        #expect(try ChatTemplate.format(t, source: "", field: "", date: "1 Jan 2026") == .llama32(date: "1 Jan 2026"))
        #expect(try ChatTemplate.format(nil, source: "", field: "", date: "") == .plainText)
    }

    @Test func otherFamiliesAndUnknownTemplatesAreRefusedByName() {
        #expect(throws: TokenizerError.unsupportedChatTemplate(source: "m.gguf", field: "tokenizer.chat_template", family: "gemma")) {
            try ChatTemplate.format("<start_of_turn>", source: "m.gguf", field: "tokenizer.chat_template", date: "")
        }
        let unknown = TokenizerError.unsupportedChatTemplate(source: "d/tokenizer_config.json", field: "chat_template", family: nil)
        #expect(unknown.description == "d/tokenizer_config.json: chat_template is a template of no family llama.cpp recognises, "
            + "which hamrun does not implement; choose a format with --chat-format plain|chatml|llama3|llama32")
        #expect(TokenizerError.unsupportedChatTemplate(source: "m", field: "f", family: "gemma").description
            .contains("f is a \"gemma\" template (as llama.cpp names its family)"))
    }

    @Test func chatMLByNameKeepsTheTemplatesSystemMessage() {
        #expect(ChatTemplate.format(named: .chatml, template: Self.smollm2Template, date: "")
            == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        #expect(ChatTemplate.format(named: .chatml, template: nil, date: "") == .chatML(defaultSystem: nil))
        #expect(ChatTemplate.format(named: .plain, template: Self.smollm2Template, date: "") == .plainText)
    }

    /// Qwen2.5's way of writing it: an `{%- else %}` branch with escaped newlines.
    @Test func defaultSystemMessageFromEscapedLiteral() {
        let t = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
            + "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You\\'re helpful.<|im_end|>\\n' }}{%- endif %}"
        #expect(ChatTemplate.defaultSystemMessage(t) == "You are Qwen, created by Alibaba Cloud. You're helpful.")
        #expect(ChatTemplate.defaultSystemMessage("<|im_start|>system\nnot in code<|im_end|>") == nil)
    }

    @Test func chatMLNeedsItsTokens() {
        #expect(throws: TokenizerError.missingToken(source: Fixtures.llama3.source, token: "<|im_start|>", neededFor: "the ChatML chat format")) {
            try ChatFormatter(tokenizer: Fixtures.llama3, format: .chatML(defaultSystem: nil))
        }
    }
}
