/// Everything that can go wrong while loading a tokenizer or decoding ids.
///
/// Each case renders as one line that names the source (file path or `<data>`), the JSON
/// field and the offending value, so a user can fix the file without reading our code.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read at all.
    case unreadable(source: String, reason: String)
    /// The bytes are not JSON (or not UTF-8); `line`/`column` are 1-based.
    case malformedJSON(source: String, line: Int, column: Int, message: String)
    /// A required field is absent.
    case missingField(source: String, field: String)
    /// A field holds the wrong JSON type or an impossible value.
    case invalidValue(source: String, field: String, value: String, reason: String)
    /// The file uses a Hugging Face component or option that hamrun does not implement.
    case unsupported(source: String, field: String, value: String)
    /// `decode` was given an id that names no token.
    case unknownTokenId(Int32)
    /// A feature needs a token that the tokenizer does not have.
    case missingToken(source: String, token: String, neededFor: String)
    /// A chat template of a family hamrun does not write (`family`: llama.cpp's name for it,
    /// nil when llama.cpp does not recognise it either).
    case unsupportedChatTemplate(source: String, field: String, family: String?)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): cannot read tokenizer file: \(reason)"
        case let .malformedJSON(source, line, column, message):
            return "\(source):\(line):\(column): malformed JSON: \(message)"
        case let .missingField(source, field):
            return "\(source): missing required field \(field)"
        case let .invalidValue(source, field, value, reason):
            return "\(source): \(field) = \(value): \(reason)"
        case let .unsupported(source, field, value):
            return "\(source): \(field) = \(value) is not supported by hamrun's tokenizer"
        case let .unknownTokenId(id):
            return "token id \(id) is not in the tokenizer's vocabulary"
        case let .missingToken(source, token, neededFor):
            return "\(source): has no token \(token), which \(neededFor) needs"
        case let .unsupportedChatTemplate(source, field, family):
            let what = family.map { "a \(Self.quote($0)) template (as llama.cpp names its family)" }
                ?? "a template of no family llama.cpp recognises"
            return "\(source): \(field) is \(what), which hamrun does not implement; choose a format with --chat-format "
                + ChatFormatName.allCases.map(\.rawValue).joined(separator: "|")
        }
    }

    /// A value as messages show it: quoted, escaped, cut after 60 scalars.
    static func quote(_ s: String) -> String {
        let limit = 60
        var body = ""
        for (k, scalar) in s.unicodeScalars.enumerated() {
            if k == limit { body += "..."; break }
            body += scalar.escaped(asASCII: false)
        }
        return "\"\(body)\""
    }
}
