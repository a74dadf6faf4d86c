import HamJSON

/// Everything a tokenizer.json says, checked and turned into lookup tables.
///
/// The checks follow what Hugging Face `tokenizers` accepts. Where a file asks for something
/// hamrun does not implement and that would change the ids (another model type, a
/// normalizer, a different split pattern, dropout...), loading fails and names the field,
/// rather than silently tokenizing differently from the reference.
struct TokenizerDefinition: Sendable {
    /// Vocabulary text (in the byte-level alphabet) → id, model vocabulary only.
    var vocab: ByteStringTable
    var encoder: BytePairEncoder
    var addedTokens: [AddedToken]
    /// What the post-processor puts around a sequence when special tokens are added.
    var prefix: [Int32]
    var suffix: [Int32]
    /// One past the largest id in use.
    var idCount: Int
    /// Per id: the bytes it decodes to (`pieces[pieceStart[id]..<pieceStart[id + 1]]`).
    var pieceStart: [Int32]
    var pieces: [UInt8]
    /// Per id: its entry in `vocab`, or -1 (added tokens outside the model, holes).
    var vocabEntry: [Int32]
    /// Per id: its index in `addedTokens`, or -1.
    var addedIndex: [Int32]

    /// Ids at or above this are refused: tables are sized by the largest id, and no real
    /// vocabulary comes near it.
    static let idLimit = 1 << 24

    /// The only split pattern implemented (by `Llama3Splitter`).
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    init(document doc: JSONDocument, source: String) throws {
        let r = Reader(source: source)
        let root = try r.object(doc.root, "the top level")

        if let v = r.field(root, "version"), try r.string(v, "version") != "1.0" {
            throw TokenizerError.unsupported(source: source, field: "version", value: r.show(v))
        }
        for name in ["truncation", "padding"] {
            if let v = r.field(root, name), !r.isNull(v) {
                // Both change the ids that encode returns; a runtime wants the raw ones.
                throw TokenizerError.unsupported(source: source, field: name, value: r.show(v))
            }
        }
        // The model first: a JSON file that is not a tokenizer at all should be told so.
        guard let modelValue = r.field(root, "model") else {
            throw TokenizerError.missingField(source: source, field: "model")
        }
        try r.checkNormalizer(r.field(root, "normalizer"))
        try r.checkPreTokenizer(r.field(root, "pre_tokenizer"))
        try r.checkDecoder(r.field(root, "decoder"))
        let model = try r.object(modelValue, "model")
        let model_ = try r.readModel(model)
        vocab = model_.vocab
        var maxId = model_.maxId

        // Added tokens get the ids Hugging Face would give them, which is not necessarily
        // the "id" written in the file: the model's id if the content is in the vocabulary,
        // else the next one after the vocabulary. A file where the two disagree is
        // inconsistent; say so rather than pick one.
        var added: [AddedToken] = []
        if let list = r.field(root, "added_tokens"), !r.isNull(list) {
            var nextId = Int32(model_.vocabCount)
            var seen: [String: Int] = [:]
            for (i, item) in try r.array(list, "added_tokens").enumerated() {
                let path = "added_tokens[\(i)]"
                let t = try r.addedToken(item, path)
                if t.content.isEmpty { continue }  // Hugging Face ignores these too.
                if seen[t.content] != nil {
                    throw TokenizerError.invalidValue(source: source, field: "\(path).content", value: r.quote(t.content),
                                                      reason: "the same content is already added_tokens[\(seen[t.content] ?? 0)]")
                }
                seen[t.content] = i
                let expected: Int32
                if let id = vocab.find(Array(t.content.utf8)) {
                    expected = id
                } else {
                    expected = nextId
                    nextId += 1
                }
                if t.id != expected {
                    throw TokenizerError.invalidValue(
                        source: source, field: "\(path).id", value: String(t.id),
                        reason: "token \(r.quote(t.content)) would get id \(expected) from Hugging Face tokenizers "
                            + "(its vocabulary id, or the next free id after the model's \(model_.vocabCount) tokens)")
                }
                if Int(t.id) >= TokenizerDefinition.idLimit {
                    throw TokenizerError.invalidValue(source: source, field: "\(path).id", value: String(t.id),
                                                      reason: "ids must be below \(TokenizerDefinition.idLimit)")
                }
                maxId = max(maxId, Int(t.id))
                added.append(t)
            }
        }
        addedTokens = added
        idCount = maxId + 1

        (prefix, suffix) = try r.readPostProcessor(r.field(root, "post_processor"), idCount: idCount)

        // Byte-level tokens of each single byte, for the BPE's starting point.
        let byteTokens = ByteLevelAlphabet.byteTokens(in: vocab)

        vocabEntry = [Int32](repeating: -1, count: idCount)
        for e in 0..<vocab.count { vocabEntry[Int(vocab.values[e])] = Int32(e) }
        addedIndex = [Int32](repeating: -1, count: idCount)
        for (k, t) in added.enumerated() { addedIndex[Int(t.id)] = Int32(k) }

        // Decoded bytes per id, the way Hugging Face's decode finds them: an added token's
        // content first, else the model's token, each read through the ByteLevel decoder.
        var pieceStart = [Int32](repeating: 0, count: idCount + 1)
        var pieces: [UInt8] = []
        pieces.reserveCapacity(vocab.arena.count)
        var wholePieces: ByteStringTable? = model_.ignoreMerges ? ByteStringTable(capacity: vocab.count) : nil
        for id in 0..<idCount {
            pieceStart[id] = Int32(pieces.count)
            if addedIndex[id] >= 0 {
                pieces.append(contentsOf: ByteLevelAlphabet.decode(added[Int(addedIndex[id])].content.utf8))
            } else if vocabEntry[id] >= 0 {
                let text = vocab.key(at: Int(vocabEntry[id]))
                let bytes = ByteLevelAlphabet.decode(text)
                pieces.append(contentsOf: bytes)
                if wholePieces != nil && ByteLevelAlphabet.encode(bytes).utf8.elementsEqual(text) {
                    wholePieces?.insert(bytes, Int32(id))
                }
            }
        }
        pieceStart[idCount] = Int32(pieces.count)
        self.pieceStart = pieceStart
        self.pieces = pieces

        encoder = BytePairEncoder(byteTokens: byteTokens, merges: model_.merges, unknownToken: model_.unknownToken,
                                  fuseUnknown: model_.fuseUnknown, wholePieces: wholePieces)
    }
}

extension TokenizerDefinition {
    /// The tables as they are, for vocabularies read elsewhere (`LlamaCppVocabulary`).
    init(vocab: ByteStringTable, encoder: BytePairEncoder, addedTokens: [AddedToken], prefix: [Int32], suffix: [Int32],
         idCount: Int, pieceStart: [Int32], pieces: [UInt8], vocabEntry: [Int32], addedIndex: [Int32]) {
        self.vocab = vocab
        self.encoder = encoder
        self.addedTokens = addedTokens
        self.prefix = prefix
        self.suffix = suffix
        self.idCount = idCount
        self.pieceStart = pieceStart
        self.pieces = pieces
        self.vocabEntry = vocabEntry
        self.addedIndex = addedIndex
    }
}

/// Field access with error messages that name the field.
private struct Reader {
    let source: String

    struct Model {
        var vocab: ByteStringTable
        var vocabCount: Int
        var maxId: Int
        var merges: MergeTable
        var unknownToken: Int32?
        var fuseUnknown: Bool
        var ignoreMerges: Bool
    }

    /// The member `name` of an object (later duplicates win, as in serde).
    func field(_ object: JSONValue, _ name: String) -> JSONValue? {
        object[name]
    }

    func isNull(_ v: JSONValue) -> Bool { v.isNull }

    func object(_ v: JSONValue, _ path: String) throws -> JSONValue {
        guard v.kind == .object else { throw wrongType(v, path, "an object") }
        return v
    }

    func array(_ v: JSONValue, _ path: String) throws -> [JSONValue] {
        guard v.kind == .array else { throw wrongType(v, path, "an array") }
        return Array(v.elements)
    }

    func string(_ v: JSONValue, _ path: String) throws -> String {
        guard let s = v.stringValue else { throw wrongType(v, path, "a string") }
        return s
    }

    func bool(_ v: JSONValue, _ path: String) throws -> Bool {
        guard let b = v.boolValue else { throw wrongType(v, path, "true or false") }
        return b
    }

    func id(_ v: JSONValue, _ path: String) throws -> Int32 {
        guard let n = v.integerValue else { throw wrongType(v, path, "an integer id") }
        guard n >= 0 && n < TokenizerDefinition.idLimit else {
            throw TokenizerError.invalidValue(source: source, field: path, value: String(n),
                                              reason: "ids must be in 0..<\(TokenizerDefinition.idLimit)")
        }
        return Int32(n)
    }

    func optionalBool(_ members: JSONValue, _ name: String, _ path: String, default d: Bool) throws -> Bool {
        guard let v = field(members, name), !isNull(v) else { return d }
        return try bool(v, "\(path).\(name)")
    }

    func type(_ members: JSONValue, _ path: String) throws -> String {
        guard let v = field(members, "type") else { throw TokenizerError.missingField(source: source, field: "\(path).type") }
        return try string(v, "\(path).type")
    }

    func wrongType(_ v: JSONValue, _ path: String, _ expected: String) -> TokenizerError {
        .invalidValue(source: source, field: path, value: show(v), reason: "expected \(expected)")
    }

    /// A short rendering of a value for messages.
    func show(_ v: JSONValue) -> String {
        switch v.kind {
        case .null, .bool, .number: return String(v.literal)
        case .string: return quote(v.stringValue ?? "")
        case .array: return "an array of \(v.count)"
        case .object:
            if let t = field(v, "type")?.stringValue { return "an object of type \(quote(t))" }
            return "an object"
        }
    }

    func quote(_ s: String) -> String { TokenizerError.quote(s) }

    // MARK: components that only have to be checked

    func checkNormalizer(_ v: JSONValue?) throws {
        guard let v, !isNull(v) else { return }
        let m = try object(v, "normalizer")
        let t = try type(m, "normalizer")
        // An empty Sequence is what some converters write for "no normalizer".
        if t == "Sequence", let list = field(m, "normalizers"), try array(list, "normalizer.normalizers").isEmpty { return }
        throw TokenizerError.unsupported(source: source, field: "normalizer.type", value: quote(t))
    }

    func checkPreTokenizer(_ v: JSONValue?) throws {
        guard let v, !isNull(v) else {
            throw TokenizerError.unsupported(source: source, field: "pre_tokenizer", value: "null")
        }
        let m = try object(v, "pre_tokenizer")
        let t = try type(m, "pre_tokenizer")
        guard t == "Sequence" else {
            throw TokenizerError.unsupported(source: source, field: "pre_tokenizer.type", value: quote(t))
        }
        guard let listValue = field(m, "pretokenizers") else {
            throw TokenizerError.missingField(source: source, field: "pre_tokenizer.pretokenizers")
        }
        let list = try array(listValue, "pre_tokenizer.pretokenizers")
        guard list.count == 2 else {
            throw TokenizerError.unsupported(source: source, field: "pre_tokenizer.pretokenizers",
                                             value: "a sequence of \(list.count) (hamrun implements Split then ByteLevel)")
        }
        let split = try object(list[0], "pre_tokenizer.pretokenizers[0]")
        let p0 = "pre_tokenizer.pretokenizers[0]"
        let t0 = try type(split, p0)
        guard t0 == "Split" else { throw TokenizerError.unsupported(source: source, field: "\(p0).type", value: quote(t0)) }
        guard let patternValue = field(split, "pattern") else {
            throw TokenizerError.missingField(source: source, field: "\(p0).pattern")
        }
        let pattern = try object(patternValue, "\(p0).pattern")
        if let re = field(pattern, "Regex") {
            let s = try string(re, "\(p0).pattern.Regex")
            guard s == TokenizerDefinition.llama3Pattern else {
                throw TokenizerError.unsupported(source: source, field: "\(p0).pattern.Regex", value: quote(s))
            }
        } else if let str = field(pattern, "String") {
            throw TokenizerError.unsupported(source: source, field: "\(p0).pattern.String", value: show(str))
        } else {
            throw TokenizerError.missingField(source: source, field: "\(p0).pattern.Regex")
        }
        let behavior = try field(split, "behavior").map { try string($0, "\(p0).behavior") } ?? "(missing)"
        guard behavior == "Isolated" else {
            throw TokenizerError.unsupported(source: source, field: "\(p0).behavior", value: quote(behavior))
        }
        if try optionalBool(split, "invert", p0, default: false) {
            throw TokenizerError.unsupported(source: source, field: "\(p0).invert", value: "true")
        }

        let p1 = "pre_tokenizer.pretokenizers[1]"
        let byteLevel = try object(list[1], p1)
        let t1 = try type(byteLevel, p1)
        guard t1 == "ByteLevel" else { throw TokenizerError.unsupported(source: source, field: "\(p1).type", value: quote(t1)) }
        // Hugging Face's defaults for a ByteLevel written without these fields are true.
        if try optionalBool(byteLevel, "add_prefix_space", p1, default: true) {
            throw TokenizerError.unsupported(source: source, field: "\(p1).add_prefix_space", value: "true")
        }
        if try optionalBool(byteLevel, "use_regex", p1, default: true) {
            throw TokenizerError.unsupported(source: source, field: "\(p1).use_regex", value: "true")
        }
    }

    func checkDecoder(_ v: JSONValue?) throws {
        guard let v, !isNull(v) else {
            throw TokenizerError.unsupported(source: source, field: "decoder", value: "null")
        }
        let m = try object(v, "decoder")
        let t = try type(m, "decoder")
        if t == "ByteLevel" { return }
        if t == "Sequence", let list = field(m, "decoders") {
            let items = try array(list, "decoder.decoders")
            for (i, item) in items.enumerated() {
                let p = "decoder.decoders[\(i)]"
                let ti = try type(try object(item, p), p)
                if ti != "ByteLevel" { throw TokenizerError.unsupported(source: source, field: "\(p).type", value: quote(ti)) }
            }
            if !items.isEmpty { return }
        }
        throw TokenizerError.unsupported(source: source, field: "decoder.type", value: quote(t))
    }

    // MARK: the model

    func readModel(_ m: JSONValue) throws -> Model {
        let t = try type(m, "model")
        guard t == "BPE" else { throw TokenizerError.unsupported(source: source, field: "model.type", value: quote(t)) }
        if let d = field(m, "dropout"), !isNull(d) {
            // Dropout makes encoding random; zero is the same as none.
            guard d.doubleValue == 0 else {
                throw TokenizerError.unsupported(source: source, field: "model.dropout", value: show(d))
            }
        }
        for name in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = field(m, name), !isNull(v), try string(v, "model.\(name)") != "" {
                throw TokenizerError.unsupported(source: source, field: "model.\(name)", value: show(v))
            }
        }
        if try optionalBool(m, "byte_fallback", "model", default: false) {
            throw TokenizerError.unsupported(source: source, field: "model.byte_fallback", value: "true")
        }
        let fuseUnknown = try optionalBool(m, "fuse_unk", "model", default: false)
        let ignoreMerges = try optionalBool(m, "ignore_merges", "model", default: false)

        guard let vocabValue = field(m, "vocab") else { throw TokenizerError.missingField(source: source, field: "model.vocab") }
        let vocabMembers = try object(vocabValue, "model.vocab")
        var vocab = ByteStringTable(capacity: vocabMembers.count)
        var keyBytes: [UInt8] = []
        var maxId = -1
        for member in vocabMembers.members {
            keyBytes.removeAll(keepingCapacity: true)
            member.key.appendStringBytes(to: &keyBytes)
            // Checked inline: building a field path per entry would cost more than the load.
            guard let n = member.value.integerValue,
                  n >= 0 && n < TokenizerDefinition.idLimit
            else {
                _ = try self.id(member.value, "model.vocab[\(quote(String(decoding: keyBytes, as: UTF8.self)))]")
                continue
            }
            let id = Int32(n)
            vocab.insert(keyBytes, id)
            maxId = max(maxId, Int(id))
        }
        // Two tokens with one id would make decoding ambiguous.
        var owner = [Int32](repeating: -1, count: maxId + 1)
        for e in 0..<vocab.count {
            let id = Int(vocab.values[e])
            if owner[id] >= 0 {
                let a = String(decoding: vocab.key(at: Int(owner[id])), as: UTF8.self)
                let b = String(decoding: vocab.key(at: e), as: UTF8.self)
                throw TokenizerError.invalidValue(source: source, field: "model.vocab[\(quote(b))]", value: String(id),
                                                  reason: "id already used by \(quote(a))")
            }
            owner[id] = Int32(e)
        }

        var unknownToken: Int32?
        if let u = field(m, "unk_token"), !isNull(u) {
            let name = try string(u, "model.unk_token")
            guard let id = vocab.find(Array(name.utf8)) else {
                throw TokenizerError.invalidValue(source: source, field: "model.unk_token", value: quote(name),
                                                  reason: "not in model.vocab")
            }
            unknownToken = id
        }

        guard let mergesValue = field(m, "merges") else { throw TokenizerError.missingField(source: source, field: "model.merges") }
        let list = try array(mergesValue, "model.merges")
        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        merges.reserveCapacity(list.count)
        // Both tokens of a merge, back to back: the pair's tokens and its result are then
        // three ranges of one buffer, with no copying per lookup.
        var joined: [UInt8] = []
        let versionComment = Array("#version".utf8)
        for (i, item) in list.enumerated() {
            var path: String { "model.merges[\(i)]" }
            joined.removeAll(keepingCapacity: true)
            var split = 0
            switch item.kind {
            case .string:
                // The older "a b" form; "#version" lines are comments carried over from merges.txt.
                item.appendStringBytes(to: &joined)
                if joined.starts(with: versionComment) { continue }
                var spaces = 0
                for k in joined.indices where joined[k] == UInt8(ascii: " ") {
                    spaces += 1
                    split = k
                }
                guard spaces == 1 else {
                    throw TokenizerError.invalidValue(source: source, field: path, value: show(item),
                                                      reason: "a merge must be two tokens separated by one space")
                }
                joined.remove(at: split)
            case .array:
                var pair = item.elements.makeIterator()
                guard item.count == 2, let a = pair.next(), let b = pair.next(), a.kind == .string, b.kind == .string else {
                    throw TokenizerError.invalidValue(source: source, field: path, value: show(item),
                                                      reason: "a merge must be a pair of token strings")
                }
                a.appendStringBytes(to: &joined)
                split = joined.count
                b.appendStringBytes(to: &joined)
            default:
                throw wrongType(item, path, "a string \"a b\" or a pair [\"a\", \"b\"]")
            }
            let (a, b, c) = joined.withUnsafeBufferPointer { buf in
                (vocab.find(buf.baseAddress, split),
                 vocab.find(buf.baseAddress.map { $0 + split }, buf.count - split),
                 vocab.find(buf.baseAddress, buf.count))
            }
            guard let a else { throw unknownMergeToken(path, item, Array(joined[..<split])) }
            guard let b else { throw unknownMergeToken(path, item, Array(joined[split...])) }
            guard let c else { throw unknownMergeToken(path, item, joined) }
            merges.append((a, b, c))
        }
        return Model(vocab: vocab, vocabCount: vocab.count, maxId: maxId, merges: MergeTable(merges: merges), unknownToken: unknownToken,
                     fuseUnknown: fuseUnknown, ignoreMerges: ignoreMerges)
    }

    func unknownMergeToken(_ path: String, _ item: JSONValue, _ token: [UInt8]) -> TokenizerError {
        .invalidValue(source: source, field: path, value: show(item),
                      reason: "token \(quote(String(decoding: token, as: UTF8.self))) is not in model.vocab")
    }

    // MARK: added tokens and post-processor

    func addedToken(_ v: JSONValue, _ path: String) throws -> AddedToken {
        let m = try object(v, path)
        guard let idValue = field(m, "id") else { throw TokenizerError.missingField(source: source, field: "\(path).id") }
        guard let contentValue = field(m, "content") else {
            throw TokenizerError.missingField(source: source, field: "\(path).content")
        }
        let special = try optionalBool(m, "special", path, default: false)
        return AddedToken(
            id: try id(idValue, "\(path).id"),
            content: try string(contentValue, "\(path).content"),
            isSpecial: special,
            singleWord: try optionalBool(m, "single_word", path, default: false),
            lstrip: try optionalBool(m, "lstrip", path, default: false),
            rstrip: try optionalBool(m, "rstrip", path, default: false),
            normalized: try optionalBool(m, "normalized", path, default: !special))
    }

    func readPostProcessor(_ v: JSONValue?, idCount: Int) throws -> ([Int32], [Int32]) {
        guard let v, !isNull(v) else { return ([], []) }
        return try postProcessor(v, "post_processor", idCount: idCount)
    }

    private func postProcessor(_ v: JSONValue, _ path: String, idCount: Int) throws -> ([Int32], [Int32]) {
        let m = try object(v, path)
        let t = try type(m, path)
        switch t {
        case "ByteLevel":
            // As a post-processor it only trims offsets, which hamrun does not report.
            return ([], [])
        case "Sequence":
            guard let list = field(m, "processors") else { throw TokenizerError.missingField(source: source, field: "\(path).processors") }
            var prefix: [Int32] = [], suffix: [Int32] = []
            for (i, item) in try array(list, "\(path).processors").enumerated() {
                let (p, s) = try postProcessor(item, "\(path).processors[\(i)]", idCount: idCount)
                prefix = p + prefix
                suffix += s
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            return try template(m, path, idCount: idCount)
        default:
            throw TokenizerError.unsupported(source: source, field: "\(path).type", value: quote(t))
        }
    }

    /// The `single` template: special tokens before and after the one sequence `A`.
    private func template(_ m: JSONValue, _ path: String, idCount: Int) throws -> ([Int32], [Int32]) {
        guard let singleValue = field(m, "single") else { throw TokenizerError.missingField(source: source, field: "\(path).single") }
        var specials: [String: [Int32]] = [:]
        if let st = field(m, "special_tokens"), !isNull(st) {
            for member in try object(st, "\(path).special_tokens").members {
                let name = member.name
                let p = "\(path).special_tokens[\(quote(name))]"
                let entry = try object(member.value, p)
                guard let idsValue = field(entry, "ids") else { throw TokenizerError.missingField(source: source, field: "\(p).ids") }
                var ids: [Int32] = []
                for (k, idValue) in try array(idsValue, "\(p).ids").enumerated() {
                    let id = try self.id(idValue, "\(p).ids[\(k)]")
                    guard Int(id) < idCount else {
                        throw TokenizerError.invalidValue(source: source, field: "\(p).ids[\(k)]", value: String(id),
                                                          reason: "no token has this id")
                    }
                    ids.append(id)
                }
                specials[name] = ids
            }
        }
        var prefix: [Int32] = [], suffix: [Int32] = []
        var seenSequence = false
        for (i, piece) in try array(singleValue, "\(path).single").enumerated() {
            let p = "\(path).single[\(i)]"
            let pm = try object(piece, p)
            if let st = field(pm, "SpecialToken") {
                let sm = try object(st, "\(p).SpecialToken")
                guard let nameValue = field(sm, "id") else { throw TokenizerError.missingField(source: source, field: "\(p).SpecialToken.id") }
                let name = try string(nameValue, "\(p).SpecialToken.id")
                guard let ids = specials[name] else {
                    throw TokenizerError.invalidValue(source: source, field: "\(p).SpecialToken.id", value: quote(name),
                                                      reason: "not listed in \(path).special_tokens")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            } else if let sq = field(pm, "Sequence") {
                let sm = try object(sq, "\(p).Sequence")
                let name = try field(sm, "id").map { try string($0, "\(p).Sequence.id") } ?? "A"
                guard name == "A", !seenSequence else {
                    throw TokenizerError.unsupported(source: source, field: "\(p).Sequence.id", value: quote(name))
                }
                seenSequence = true
            } else {
                throw TokenizerError.invalidValue(source: source, field: p, value: show(piece),
                                                  reason: "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
            }
        }
        guard seenSequence else {
            throw TokenizerError.invalidValue(source: source, field: "\(path).single", value: "a template without sequence A",
                                              reason: "the text would be dropped")
        }
        return (prefix, suffix)
    }
}
