import Foundation
import HamFiles
import HamJSON

/// A byte-level BPE tokenizer: a Hugging Face tokenizer.json (the Llama 3 family), or the
/// vocabulary in a GGUF file's metadata.
///
/// From tokenizer.json it produces the same ids as Hugging Face `tokenizers` with
/// `add_special_tokens=True`; from GGUF metadata the same ids as llama.cpp's `llama_tokenize`
/// with `add_special = true`. Configurations either reference would treat differently are
/// refused when loading. Safe to share between threads.
public final class Tokenizer: Sendable {
    let definition: TokenizerDefinition
    private let specialMatching: SpecialMatching
    private let preTokenizer: PreTokenizer
    private let cache = SharedWordCache()

    /// How added tokens are found in text before pre-tokenizing.
    private enum SpecialMatching: Sendable {
        /// Hugging Face: tokens matched on the raw text and, in the gaps they leave, the
        /// `normalized` ones.
        case huggingFace(raw: AddedTokenMatcher, normalized: AddedTokenMatcher)
        /// llama.cpp: longest token first.
        case llamaCpp(SpecialTokenPartition)
    }

    /// Where the tokenizer came from, for messages.
    public let source: String
    /// Every added token: tokenizer.json's `added_tokens`, in file order; a GGUF vocabulary's
    /// control, user-defined and unknown tokens, by id.
    public let addedTokens: [AddedToken]
    /// Ids put before / after the text when special tokens are added: Hugging Face's
    /// post-processor; llama.cpp's BOS and EOS where the metadata says to add them.
    public let prefixTokenIds: [Int32]
    public let suffixTokenIds: [Int32]
    /// The special ids a GGUF vocabulary names or llama.cpp finds by text; for tokenizer.json,
    /// BOS from the post-processor.
    public let specialTokenIds: SpecialTokenIds

    /// The largest tokenizer.json read (Llama 3's is 9 MB, Gemma's 34 MB); the parser needs
    /// several times a file's size, so a larger file is refused before it is read.
    public static let fileLimit = 128 << 20

    /// Loads tokenizer.json from a file.
    public convenience init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try InputFile.read(url.path, limit: Self.fileLimit)
        } catch let error as FileError {
            throw TokenizerError.unreadable(source: url.path, reason: error.detail)
        }
        try self.init(data: bytes, source: url.path)
    }

    /// Loads tokenizer.json from its bytes (`Data`, `[UInt8]`...); `source` names it in
    /// error messages.
    public init<Bytes: Collection>(data: Bytes, source: String = "<data>") throws where Bytes.Element == UInt8 {
        let document: JSONDocument
        do {
            document = try JSONDocument(data, source: source)
        } catch let JSONError.syntax(source, line, column, detail) {
            throw TokenizerError.malformedJSON(source: source, line: line, column: column, message: detail)
        }
        definition = try TokenizerDefinition(document: document, source: source)
        self.source = source
        addedTokens = definition.addedTokens
        prefixTokenIds = definition.prefix
        suffixTokenIds = definition.suffix
        specialMatching = .huggingFace(raw: AddedTokenMatcher(definition.addedTokens.filter { !$0.normalized }),
                                       normalized: AddedTokenMatcher(definition.addedTokens.filter { $0.normalized }))
        preTokenizer = .llama3(Llama3Splitter())
        specialTokenIds = SpecialTokenIds(bos: definition.prefix.first)
    }

    /// Builds the tokenizer that a GGUF file's metadata describes, as llama.cpp does.
    public init(vocabulary: TokenizerVocabulary) throws {
        let v = try LlamaCppVocabulary(vocabulary)
        definition = v.definition
        source = vocabulary.source
        addedTokens = definition.addedTokens
        prefixTokenIds = definition.prefix
        suffixTokenIds = definition.suffix
        specialMatching = .llamaCpp(SpecialTokenPartition(definition.addedTokens))
        preTokenizer = v.pre.splitter
        specialTokenIds = v.special
    }

    // MARK: vocabulary

    /// One past the largest token id (the size an embedding table needs).
    public var vocabSize: Int { definition.idCount }

    /// The beginning-of-text token (`<|begin_of_text|>` for Llama 3), if any.
    public var bosTokenId: Int32? { specialTokenIds.bos }

    /// The added tokens marked special.
    public var specialTokens: [AddedToken] { addedTokens.filter(\.isSpecial) }

    public func isSpecial(_ id: Int32) -> Bool {
        guard id >= 0 && Int(id) < definition.idCount else { return false }
        let k = definition.addedIndex[Int(id)]
        return k >= 0 && addedTokens[Int(k)].isSpecial
    }

    /// The id of a token given as it is written in tokenizer.json (vocabulary entries in the
    /// byte-level alphabet, e.g. "Ġhello"; added tokens by content, e.g. "<|eot_id|>").
    public func id(forToken token: String) -> Int32? {
        if let t = addedTokens.first(where: { $0.content == token }) { return t.id }
        return definition.vocab.find(Array(token.utf8))
    }

    /// The token with this id as written in tokenizer.json, or nil if no token has it.
    public func token(forId id: Int32) -> String? {
        guard id >= 0 && Int(id) < definition.idCount else { return nil }
        let k = definition.addedIndex[Int(id)]
        if k >= 0 { return addedTokens[Int(k)].content }
        let e = definition.vocabEntry[Int(id)]
        guard e >= 0 else { return nil }
        return String(decoding: definition.vocab.key(at: Int(e)), as: UTF8.self)
    }

    /// The bytes this token stands for in decoded text, or nil if no token has the id.
    /// A token may be part of a UTF-8 sequence; `StreamingDecoder` reassembles those.
    public func bytes(forId id: Int32) -> ArraySlice<UInt8>? {
        guard id >= 0 && Int(id) < definition.idCount else { return nil }
        let start = Int(definition.pieceStart[Int(id)]), end = Int(definition.pieceStart[Int(id) + 1])
        if start == end && definition.addedIndex[Int(id)] < 0 && definition.vocabEntry[Int(id)] < 0 { return nil }
        return definition.pieces[start..<end]
    }

    // MARK: encoding

    /// The ids of `text`, as Hugging Face's `encode(text, add_special_tokens=...)` or llama.cpp's
    /// `llama_tokenize(text, add_special, parse_special)` gives them.
    ///
    /// Added tokens written in the text (e.g. "<|eot_id|>") become their ids; with
    /// `parseSpecialTokens: false` the special ones are tokenized as ordinary text instead
    /// (Hugging Face's `encode_special_tokens=True`), which is what user-typed text needs.
    public func encode(_ text: String, addSpecialTokens: Bool = true, parseSpecialTokens: Bool = true) -> [Int32] {
        switch preTokenizer {
        case let .llama3(splitter): return encode(text, splitter, addSpecialTokens, parseSpecialTokens)
        case let .gpt2(splitter): return encode(text, splitter, addSpecialTokens, parseSpecialTokens)
        }
    }

    private func encode<S: PieceSplitter>(_ text: String, _ splitter: S, _ addSpecialTokens: Bool,
                                          _ parseSpecialTokens: Bool) -> [Int32] {
        var out: [Int32] = []
        if addSpecialTokens { out.append(contentsOf: prefixTokenIds) }
        var text = text
        text.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            out.reserveCapacity(out.count + buf.count / 3 + 8)
            cache.with { (cache: inout WordCache) in
                if addedTokens.isEmpty {
                    encodeOrdinary(splitter, p, 0..<buf.count, &cache, &out)
                    return
                }
                var segments: [AddedTokenMatcher.Segment] = []
                var inner: [AddedTokenMatcher.Segment] = []
                switch specialMatching {
                case let .llamaCpp(partition):
                    partition.split(p, 0..<buf.count, skipSpecial: !parseSpecialTokens, into: &segments)
                case let .huggingFace(raw, _):
                    raw.split(p, 0..<buf.count, skipSpecial: !parseSpecialTokens, into: &segments)
                }
                for segment in segments {
                    switch segment {
                    case let .token(id):
                        out.append(id)
                    case let .text(range):
                        guard case let .huggingFace(_, normalized) = specialMatching, !normalized.isEmpty else {
                            encodeOrdinary(splitter, p, range, &cache, &out)
                            continue
                        }
                        inner.removeAll(keepingCapacity: true)
                        normalized.split(p, range, skipSpecial: !parseSpecialTokens, into: &inner)
                        for s in inner {
                            switch s {
                            case let .token(id): out.append(id)
                            case let .text(r): encodeOrdinary(splitter, p, r, &cache, &out)
                            }
                        }
                    }
                }
            }
        }
        if addSpecialTokens { out.append(contentsOf: suffixTokenIds) }
        return out
    }

    /// Pre-tokenize and BPE a stretch of text that holds no added tokens.
    private func encodeOrdinary<S: PieceSplitter>(_ splitter: S, _ p: UnsafePointer<UInt8>, _ range: Range<Int>,
                                                  _ cache: inout WordCache, _ out: inout [Int32]) {
        // The splitters see the stretch as the whole text: a lookahead stops at its end.
        let base = p + range.lowerBound
        let end = range.count
        var i = 0
        let encoder = definition.encoder
        encoder.byteTokens.withUnsafeBufferPointer { byteTokens in
            while i < end {
                let e = splitter.pieceEnd(base, end, i)
                let n = e - i
                if n == 1 && byteTokens[Int(base[i])] >= 0 {
                    out.append(byteTokens[Int(base[i])])
                } else if n <= WordCache.maxPieceLength {
                    if !cache.append(base + i, n, to: &out) {
                        let before = out.count
                        encoder.encode(base + i, n, into: &out)
                        cache.store(base + i, n, out[before...])
                    }
                } else {
                    encoder.encode(base + i, n, into: &out)
                }
                i = e
            }
        }
    }

    // MARK: decoding

    /// The text of `ids`, as Hugging Face's `decode(ids, skip_special_tokens=...)` gives it
    /// (bytes that are not valid UTF-8 become U+FFFD), except that an unknown id is an error
    /// rather than silently dropped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            guard let piece = bytes(forId: id) else { throw TokenizerError.unknownTokenId(id) }
            if skipSpecialTokens && isSpecial(id) { continue }
            out.append(contentsOf: piece)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The word cache behind a lock. An encode call that finds it busy (another thread is
/// encoding) uses a fresh private cache rather than wait.
private final class SharedWordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache = WordCache()

    func with<R>(_ body: (inout WordCache) -> R) -> R {
        if lock.try() {
            defer { lock.unlock() }
            return body(&cache)
        }
        var privateCache = WordCache()
        return body(&privateCache)
    }
}
