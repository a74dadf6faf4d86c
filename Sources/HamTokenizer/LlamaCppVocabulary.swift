/// llama.cpp's token attributes (`llama_token_attr`), the part of them that tokenizing and
/// decoding read. A token's type in the file sets one; llama.cpp then adjusts some by text.
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt8
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(type: TokenizerVocabulary.TokenType) {
        switch type {
        case .undefined: self = []
        case .normal: self = .normal
        case .unknown: self = .unknown
        case .control: self = .control
        case .userDefined: self = .userDefined
        case .unused: self = .unused
        case .byte: self = .byte
        }
    }
}

/// The special tokens of a vocabulary, as llama.cpp finds them.
public struct SpecialTokenIds: Sendable, Equatable {
    public var bos: Int32?
    public var eos: Int32?
    /// End of turn (`<|eot_id|>`, `<|im_end|>`...): the metadata's, else found by text (where
    /// several texts match, llama.cpp's choice follows its hash map's order, hamrun's the list's).
    public var eot: Int32?
    public var eom: Int32?
    public var unknown: Int32?
    public var separator: Int32?
    public var padding: Int32?
    /// Every token that ends generation (llama.cpp's `special_eog_ids`), ascending.
    public var endOfGeneration: [Int32]

    public init(bos: Int32? = nil, eos: Int32? = nil, eot: Int32? = nil, eom: Int32? = nil, unknown: Int32? = nil,
                separator: Int32? = nil, padding: Int32? = nil, endOfGeneration: [Int32] = []) {
        self.bos = bos
        self.eos = eos
        self.eot = eot
        self.eom = eom
        self.unknown = unknown
        self.separator = separator
        self.padding = padding
        self.endOfGeneration = endOfGeneration
    }
}

/// A GGUF vocabulary checked and turned into lookup tables the way llama.cpp's
/// `llama_vocab::load` reads it for a `gpt2` (byte-level BPE) model: the same token
/// attributes, merge ranks, special ids and BOS/EOS rules, so that encoding gives llama.cpp's
/// ids. What llama.cpp would do differently for another model or pre-tokenizer is refused,
/// naming the key, rather than approximated.
struct LlamaCppVocabulary: Sendable {
    let definition: TokenizerDefinition
    let pre: LlamaCppPreTokenizer
    let attributes: [TokenAttributes]
    let special: SpecialTokenIds

    typealias Key = TokenizerVocabulary.Key

    // Tokens llama.cpp recognises by their text when the metadata does not name them
    // (llama-vocab.cpp), in its order; where several are present llama.cpp takes whichever its
    // hash map yields first, hamrun the first in these lists.
    static let endOfTurnTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                 "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>",
                                 "<end_of_utterance>"]
    static let endOfMessageTexts = ["<|eom_id|>"]
    static let fimPreTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                              "<|code_prefix|>", "<|prefix|>"]
    static let fimSufTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                              "<|code_suffix|>", "<|suffix|>"]
    static let fimMidTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                              "<|code_middle|>", "<|middle|>"]
    static let fimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let fimSepTexts = ["<|file_sep|>"]
    static let endOfGenerationTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                       "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                       "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                       "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["]
    /// gpt-oss's tokens, always rendered: llama.cpp makes them user-defined.
    static let alwaysRenderedTexts = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]

    init(_ v: TokenizerVocabulary) throws {
        let source = v.source
        func quote(_ s: String) -> String { TokenizerError.quote(s) }

        guard let model = v.model else { throw TokenizerError.missingField(source: source, field: Key.model) }
        guard model == "gpt2" else {
            throw TokenizerError.invalidValue(source: source, field: Key.model, value: quote(model),
                                              reason: "hamrun implements only \"gpt2\" (byte-level BPE) tokenizers")
        }
        guard let preName = v.pre else {
            throw TokenizerError.invalidValue(
                source: source, field: Key.pre, value: "(missing)",
                reason: "llama.cpp would fall back to its \"default\" pre-tokenizer, which hamrun does not implement")
        }
        guard let pre = LlamaCppPreTokenizer.named(preName) else {
            throw TokenizerError.invalidValue(
                source: source, field: Key.pre, value: quote(preName),
                reason: "not a pre-tokenizer hamrun implements (llama.cpp's "
                    + LlamaCppPreTokenizer.familyNames.joined(separator: ", ") + " and the names that share them)")
        }
        self.pre = pre
        guard let rawTokens = v.tokens else { throw TokenizerError.missingField(source: source, field: Key.tokens) }
        let n = rawTokens.count
        guard n > 0 && n < TokenizerDefinition.idLimit else {
            throw TokenizerError.invalidValue(source: source, field: Key.tokens, value: "\(n) tokens",
                                              reason: "expected 1..<\(TokenizerDefinition.idLimit)")
        }

        // Texts; llama.cpp names an empty one by its id.
        var texts = rawTokens
        var vocab = ByteStringTable(capacity: n)
        for i in 0..<n {
            if texts[i].isEmpty { texts[i] = "[EMPTY_\(i)]" }
            if let earlier = vocab.insert(Array(texts[i].utf8), Int32(i)) {
                throw TokenizerError.invalidValue(source: source, field: "\(Key.tokens)[\(i)]", value: quote(texts[i]),
                                                  reason: "the same text as token \(earlier)")
            }
        }
        func id(of text: String) -> Int32? { vocab.find(Array(text.utf8)) }

        var attributes = [TokenAttributes](repeating: .normal, count: n)
        if let types = v.tokenTypes {
            guard types.count >= n else {
                throw TokenizerError.invalidValue(source: source, field: Key.tokenTypes, value: "\(types.count) values",
                                                  reason: "expected one per token (\(n))")
            }
            for i in 0..<n {
                guard let type = TokenizerVocabulary.TokenType(rawValue: types[i]) else {
                    throw TokenizerError.invalidValue(source: source, field: "\(Key.tokenTypes)[\(i)]", value: String(types[i]),
                                                      reason: "expected a token type 0...6")
                }
                attributes[i] = TokenAttributes(type: type)
            }
        }

        // Special ids: a gpt2 vocabulary's defaults (BOS = EOS = 11, when there is such a token),
        // then the metadata's.
        func checkedId(_ value: Int?, _ key: String) throws -> Int32? {
            guard let value else { return nil }
            guard value >= 0 && value < n else {
                throw TokenizerError.invalidValue(source: source, field: key, value: String(value),
                                                  reason: "no token has this id (the vocabulary has \(n))")
            }
            return Int32(value)
        }
        let defaultId: Int32? = n > 11 ? 11 : nil
        var special = SpecialTokenIds(
            bos: try checkedId(v.bosTokenId, Key.bosTokenId) ?? defaultId,
            eos: try checkedId(v.eosTokenId, Key.eosTokenId) ?? defaultId,
            eot: try checkedId(v.eotTokenId, Key.eotTokenId),
            eom: try checkedId(v.eomTokenId, Key.eomTokenId),
            unknown: try checkedId(v.unknownTokenId, Key.unknownTokenId),
            separator: try checkedId(v.separatorTokenId, Key.separatorTokenId),
            padding: try checkedId(v.paddingTokenId, Key.paddingTokenId))
        var fimPad = try checkedId(v.fimPadTokenId, Key.fimPadTokenId)
        var fimRep = try checkedId(v.fimRepTokenId, Key.fimRepTokenId)
        var fimSep = try checkedId(v.fimSepTokenId, Key.fimSepTokenId)
        var fimPre = try checkedId(v.fimPreTokenId, Key.fimPreTokenId)
        var fimSuf = try checkedId(v.fimSufTokenId, Key.fimSufTokenId)
        var fimMid = try checkedId(v.fimMidTokenId, Key.fimMidTokenId)

        // Tokens found by text become control tokens, whatever the file says.
        func find(_ texts: [String], into slot: inout Int32?) {
            guard slot == nil, let found = texts.lazy.compactMap(id(of:)).first else { return }
            slot = found
            attributes[Int(found)].insert(.control)
        }
        find(Self.endOfTurnTexts, into: &special.eot)
        find(Self.endOfMessageTexts, into: &special.eom)
        find(Self.fimPreTexts, into: &fimPre)
        find(Self.fimSufTexts, into: &fimSuf)
        find(Self.fimMidTexts, into: &fimMid)
        find(Self.fimPadTexts, into: &fimPad)
        find(Self.fimRepTexts, into: &fimRep)
        find(Self.fimSepTexts, into: &fimSep)

        var endOfGeneration = Set([fimPad, fimRep, fimSep].compactMap { $0 })
        for text in Self.endOfGenerationTexts {
            guard let t = id(of: text) else { continue }
            endOfGeneration.insert(t)
            attributes[Int(t)].insert(.control)
        }
        for text in Self.alwaysRenderedTexts {
            if let t = id(of: text) { attributes[Int(t)] = .userDefined }
        }
        for t in [special.eos, special.eot, special.eom] { if let t { endOfGeneration.insert(t) } }
        // o200k_harmony and solar-open end a message with <|end|> but not generation.
        let eogTexts = Set(endOfGeneration.map { texts[Int($0)] })
        if eogTexts.contains("<|end|>")
            && ((eogTexts.contains("<|return|>") && eogTexts.contains("<|call|>"))
                || (eogTexts.contains("<|calls|>") && eogTexts.contains("<|flush|>"))),
            let end = id(of: "<|end|>") {
            endOfGeneration.remove(end)
            attributes[Int(end)] = .userDefined
        }
        // Gemma 4 and PLaMo 2 have a normal </s>.
        if eogTexts.contains("</s>") && (eogTexts.contains("<|tool_response>") || eogTexts.contains("<|plamo:eos|>")),
           let s = id(of: "</s>") {
            endOfGeneration.remove(s)
            attributes[Int(s)] = .normal
        }
        special.endOfGeneration = endOfGeneration.sorted()
        self.special = special
        self.attributes = attributes

        let addBOS = v.addBOS ?? pre.addsBOSByDefault
        let addEOS = v.addEOS ?? false
        if addBOS && special.bos == nil {
            throw TokenizerError.invalidValue(source: source, field: Key.addBOS, value: "true", reason: "there is no BOS token")
        }
        if addEOS && special.eos == nil {
            throw TokenizerError.invalidValue(source: source, field: Key.addEOS, value: "true", reason: "there is no EOS token")
        }

        // Merges: "left right", split at the first space after the first byte; the first of two
        // merges of the same pair keeps its rank, as in llama.cpp's map.
        guard let mergeTexts = v.merges else { throw TokenizerError.missingField(source: source, field: Key.merges) }
        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        merges.reserveCapacity(mergeTexts.count)
        var seen = Set<UInt64>(minimumCapacity: mergeTexts.count)
        for (i, text) in mergeTexts.enumerated() {
            let bytes = Array(text.utf8)
            guard bytes.count >= 3, let space = bytes[1...].firstIndex(of: UInt8(ascii: " ")) else {
                throw TokenizerError.invalidValue(source: source, field: "\(Key.merges)[\(i)]", value: quote(text),
                                                  reason: "a merge must be two tokens separated by a space")
            }
            var joined = bytes
            joined.remove(at: space)
            let (a, b, c) = joined.withUnsafeBufferPointer { buf in
                (vocab.find(buf.baseAddress, space),
                 vocab.find(buf.baseAddress.map { $0 + space }, buf.count - space),
                 vocab.find(buf.baseAddress, buf.count))
            }
            for (part, found) in [(bytes[..<space], a), (bytes[(space + 1)...], b), (joined[...], c)] where found == nil {
                throw TokenizerError.invalidValue(
                    source: source, field: "\(Key.merges)[\(i)]", value: quote(text),
                    reason: "token \(quote(String(decoding: part, as: UTF8.self))) is not in \(Key.tokens)")
            }
            guard let a, let b, let c else { continue }
            if seen.insert(MergeTable.key(a, b)).inserted { merges.append((a, b, c)) }
        }

        // Decoded bytes per id, as llama.cpp's `token_to_piece` renders a token with `special`:
        // special and user-defined tokens as their text, normal ones through the byte-level
        // alphabet, byte tokens (<0xXX>) as their byte, the rest as nothing.
        var pieceStart = [Int32](repeating: 0, count: n + 1)
        var pieces: [UInt8] = []
        pieces.reserveCapacity(vocab.arena.count)
        var added: [AddedToken] = []
        var addedIndex = [Int32](repeating: -1, count: n)
        var wholePieces: ByteStringTable? = pre.ignoresMerges ? ByteStringTable(capacity: n) : nil
        for i in 0..<n {
            pieceStart[i] = Int32(pieces.count)
            let a = attributes[i]
            let text = texts[i]
            if !a.isDisjoint(with: [.control, .userDefined, .unknown]) {
                pieces.append(contentsOf: text.utf8)
                addedIndex[i] = Int32(added.count)
                added.append(AddedToken(id: Int32(i), content: text, isSpecial: !a.isDisjoint(with: [.control, .unknown]),
                                        singleWord: false, lstrip: false, rstrip: false, normalized: false))
            } else if a.contains(.normal) {
                pieces.append(contentsOf: Self.decodeNormal(text))
            } else if a.contains(.byte) {
                guard let byte = Self.byteValue(text) else {
                    throw TokenizerError.invalidValue(source: source, field: "\(Key.tokens)[\(i)]", value: quote(text),
                                                      reason: "a byte token (type 6) must be written <0xXX>")
                }
                pieces.append(byte)
            }
            // `ignore_merges` takes a piece whole when its text is a token, of any type.
            if wholePieces != nil {
                let bytes = ByteLevelAlphabet.decode(text.utf8)
                if ByteLevelAlphabet.encode(bytes).utf8.elementsEqual(text.utf8) { wholePieces?.insert(bytes, Int32(i)) }
            }
        }
        pieceStart[n] = Int32(pieces.count)

        let encoder = BytePairEncoder(byteTokens: ByteLevelAlphabet.byteTokens(in: vocab), merges: MergeTable(merges: merges), unknownToken: nil,
                                      fuseUnknown: false, wholePieces: wholePieces, missingBytesStayInPlace: true)
        definition = TokenizerDefinition(
            vocab: vocab, encoder: encoder, addedTokens: added,
            prefix: addBOS ? [special.bos].compactMap { $0 } : [], suffix: addEOS ? [special.eos].compactMap { $0 } : [],
            idCount: n, pieceStart: pieceStart, pieces: pieces, vocabEntry: (0..<Int32(n)).map { $0 }, addedIndex: addedIndex)
    }

    /// llama.cpp's `llama_decode_text`: each scalar through the byte-level alphabet; one outside
    /// it is written out as `[UNK_BYTE_0x<its UTF-8 in hex><the token's text>]`.
    static func decodeNormal(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in text.unicodeScalars {
            let v = Int(s.value)
            if v < ByteLevelAlphabet.byteOfScalar.count, ByteLevelAlphabet.byteOfScalar[v] != 0 {
                out.append(UInt8(ByteLevelAlphabet.byteOfScalar[v] - 1))
            } else {
                out += Array("[UNK_BYTE_0x".utf8)
                for b in String(s).utf8 { out += Array(hex(b).utf8) }
                out += Array(text.utf8) + Array("]".utf8)
            }
        }
        return out
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
    }

    /// The byte of a `<0xXX>` token.
    static func byteValue(_ text: String) -> UInt8? {
        let b = Array(text.utf8)
        guard b.count == 6, b[0] == UInt8(ascii: "<"), b[1] == UInt8(ascii: "0"), b[2] == UInt8(ascii: "x"),
              b[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: b[3...4], as: UTF8.self), radix: 16)
    }
}
