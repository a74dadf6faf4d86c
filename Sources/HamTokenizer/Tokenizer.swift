import Foundation
import HamFiles
import HamJSON

/// A Hugging Face byte-level BPE tokenizer (the Llama 3 family) loaded from tokenizer.json.
///
/// Produces the same ids as Hugging Face `tokenizers` with `add_special_tokens=True` for the
/// configurations it accepts; anything else is refused when loading. Safe to share between
/// threads.
public final class Tokenizer: Sendable {
    let definition: TokenizerDefinition
    /// Tokens matched on the raw text and, in the gaps they leave, the `normalized` ones.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let splitter = Llama3Splitter()
    private let cache = SharedWordCache()

    /// Where the tokenizer came from, for messages.
    public let source: String
    /// Every entry of `added_tokens`, in file order.
    public let addedTokens: [AddedToken]
    /// Ids the post-processor puts before / after the text when special tokens are added.
    public let prefixTokenIds: [Int32]
    public let suffixTokenIds: [Int32]

    /// The largest tokenizer.json read (Llama 3's is 9 MB, Gemma's 34 MB); the parser needs
    /// several times a file's size, so a larger file is refused before it is read.
    public static let fileLimit = 512 << 20

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
        rawMatcher = AddedTokenMatcher(definition.addedTokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(definition.addedTokens.filter { $0.normalized })
    }

    // MARK: vocabulary

    /// One past the largest token id (the size an embedding table needs).
    public var vocabSize: Int { definition.idCount }

    /// The token the post-processor puts first (`<|begin_of_text|>` for Llama 3), if any.
    public var bosTokenId: Int32? { prefixTokenIds.first }

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

    /// The ids of `text`, as Hugging Face's `encode(text, add_special_tokens=...)` gives them.
    ///
    /// Added tokens written in the text (e.g. "<|eot_id|>") become their ids; with
    /// `parseSpecialTokens: false` the special ones are tokenized as ordinary text instead
    /// (Hugging Face's `encode_special_tokens=True`), which is what user-typed text needs.
    public func encode(_ text: String, addSpecialTokens: Bool = true, parseSpecialTokens: Bool = true) -> [Int32] {
        var out: [Int32] = []
        if addSpecialTokens { out.append(contentsOf: prefixTokenIds) }
        var text = text
        text.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            out.reserveCapacity(out.count + buf.count / 3 + 8)
            cache.with { (cache: inout WordCache) in
                if addedTokens.isEmpty {
                    encodeOrdinary(p, 0..<buf.count, &cache, &out)
                    return
                }
                var segments: [AddedTokenMatcher.Segment] = []
                rawMatcher.split(p, 0..<buf.count, skipSpecial: !parseSpecialTokens, into: &segments)
                var inner: [AddedTokenMatcher.Segment] = []
                for segment in segments {
                    switch segment {
                    case let .token(id):
                        out.append(id)
                    case let .text(range):
                        if normalizedMatcher.isEmpty {
                            encodeOrdinary(p, range, &cache, &out)
                            continue
                        }
                        inner.removeAll(keepingCapacity: true)
                        normalizedMatcher.split(p, range, skipSpecial: !parseSpecialTokens, into: &inner)
                        for s in inner {
                            switch s {
                            case let .token(id): out.append(id)
                            case let .text(r): encodeOrdinary(p, r, &cache, &out)
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
    private func encodeOrdinary(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, _ cache: inout WordCache,
                                _ out: inout [Int32]) {
        let end = range.upperBound
        var i = range.lowerBound
        let encoder = definition.encoder
        encoder.byteTokens.withUnsafeBufferPointer { byteTokens in
            while i < end {
                let e = splitter.pieceEnd(p, end, i)
                let n = e - i
                if n == 1 && byteTokens[Int(p[i])] >= 0 {
                    out.append(byteTokens[Int(p[i])])
                } else if n <= WordCache.maxPieceLength {
                    if !cache.append(p + i, n, to: &out) {
                        let before = out.count
                        encoder.encode(p + i, n, into: &out)
                        cache.store(p + i, n, out[before...])
                    }
                } else {
                    encoder.encode(p + i, n, into: &out)
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
