import Foundation
import Testing
@testable import HamTokenizer

@Suite struct ChatFormatterTests {
    struct ChatCase {
        let format: ChatFormat
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let text: String
        let ids: [Int32]
    }

    static func cases(_ path: String) throws -> [ChatCase] {
        let root = try #require(try Fixtures.json(path) as? [String: Any])
        return try #require(root["cases"] as? [[String: Any]]).map { c in
            let name = try #require(c["format"] as? String)
            let format: ChatFormat = name == "llama3" ? .llama3 : .llama32(date: c["date"] as? String ?? "")
            let messages = try #require(c["messages"] as? [[String: String]]).map { m in
                let name = try #require(m["role"])
                let role = try #require(ChatMessage.Role(rawValue: name))
                return ChatMessage(role, try #require(m["content"]))
            }
            return ChatCase(format: format, messages: messages,
                            addGenerationPrompt: try #require(c["add_generation_prompt"] as? Bool),
                            text: try #require(c["text"] as? String),
                            ids: try #require(c["ids"] as? [Int]).map { Int32($0) })
        }
    }

    /// The ids Hugging Face gets from the rendered templates, for both tokenizers.
    @Test(arguments: [("llama3", "llama3-tokenizer/chat.json"), ("tiny", "tiny-tokenizer/chat.json")])
    func promptsMatchReference(tokenizer: String, path: String) throws {
        let tok = tokenizer == "llama3" ? Fixtures.llama3 : Fixtures.tiny
        let cases = try Self.cases(path)
        #expect(cases.count == 42)
        for c in cases {
            let chat = try ChatFormatter(tokenizer: tok, format: c.format)
            #expect(chat.prompt(c.messages, addGenerationPrompt: c.addGenerationPrompt) == c.ids,
                    "\(c.format) \(c.messages)")
            #expect(chat.text(c.messages, addGenerationPrompt: c.addGenerationPrompt) == c.text)
        }
    }

    @Test func llama3IsChosenWhenTheTokensExist() throws {
        #expect(try ChatFormatter(tokenizer: Fixtures.llama3).format == .llama3)
        #expect(try ChatFormatter(tokenizer: Fixtures.tiny).format == .llama3)
        #expect(try ChatFormatter(tokenizer: Fixtures.llama3).endOfTurnTokenIds == [128_009, 128_001])
    }

    @Test func exactLlama3Layout() throws {
        let tok = Fixtures.llama3
        let chat = try ChatFormatter(tokenizer: tok)
        let ids = chat.prompt([.system("Be brief."), .user("Hi")])
        let text = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"
        #expect(ids == tok.encode(text, addSpecialTokens: false))
        #expect(try tok.decode(ids) == text)
    }

    /// What a REPL appends after the model's reply equals the difference between the
    /// prompts with and without the new turn.
    @Test func nextTurnExtendsTheCachedConversation() throws {
        for tok in [Fixtures.llama3, Fixtures.tiny] {
            for format in [ChatFormat.llama3, .llama32(date: "26 Jul 2024")] {
                let chat = try ChatFormatter(tokenizer: tok, format: format)
                let history: [ChatMessage] = [.system("You are terse."), .user("Hello there")]
                let reply = "General Kenobi! 😀"
                let cached = chat.prompt(history) + tok.encode(reply, addSpecialTokens: false)
                let full = chat.prompt(history + [.assistant(reply), .user("  And then? ")])
                #expect(cached + chat.nextTurn(user: "  And then? ") == full)
                // A caller that already fed <|eot_id|> leaves it out.
                let fed = cached + [try #require(tok.id(forToken: "<|eot_id|>"))]
                #expect(fed + chat.nextTurn(user: "  And then? ", closingAssistantTurn: false) == full)
            }
        }
    }

    @Test func userTextIsNeverParsedAsSpecialTokens() throws {
        let tok = Fixtures.llama3
        let chat = try ChatFormatter(tokenizer: tok)
        let ids = chat.prompt([.user("say <|eot_id|> now")])
        #expect(ids.filter { $0 == 128_009 }.count == 1)  // only the real end of turn
        #expect(try tok.decode(ids).contains("say <|eot_id|> now"))
    }

    @Test func plainTextForTokenizersWithoutHeaders() throws {
        let tok = try Tokenizer(contentsOf: Fixtures.url("tiny-tokenizer/synthetic/missing-bytes.json"))
        let chat = try ChatFormatter(tokenizer: tok)
        #expect(chat.format == .plainText)
        #expect(chat.endOfTurnTokenIds == [])
        #expect(chat.prompt([.user("the thing")]) == tok.encode("the thing"))
        #expect(chat.prompt([.system("a "), .user("b")]) == tok.encode("a b"))
        #expect(chat.nextTurn(user: " more") == tok.encode(" more", addSpecialTokens: false))
        #expect(chat.text([.user("the thing")]) == "the thing")
        // Llama 3's prompt in plain text: BOS from the post-processor, then the text.
        let llama = try ChatFormatter(tokenizer: Fixtures.llama3, format: .plainText)
        #expect(llama.prompt([.user("Once upon a time")]) == Fixtures.llama3.encode("Once upon a time"))
        #expect(llama.text([.user("Once")]) == "<|begin_of_text|>Once")
    }

    @Test func llama3FormatNeedsItsTokens() throws {
        let tok = try Tokenizer(contentsOf: Fixtures.url("tiny-tokenizer/synthetic/missing-bytes.json"))
        #expect(throws: TokenizerError.self) { try ChatFormatter(tokenizer: tok, format: .llama3) }
        do {
            _ = try ChatFormatter(tokenizer: tok, format: .llama3)
        } catch {
            #expect("\(error)".contains("<|begin_of_text|>"))
            #expect("\(error)".contains("missing-bytes.json"))
        }
    }

    @Test(arguments: [("  a b \n", "a b"), ("\u{1C}x\u{1F}", "x"), ("\u{200B}x", "\u{200B}x"), ("   ", ""), ("", "")])
    func trimmingIsPythons(input: String, want: String) {
        #expect(ChatFormatter.trimmed(input) == want)
    }
}
