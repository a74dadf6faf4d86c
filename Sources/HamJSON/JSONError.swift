/// What can be wrong with a JSON text: its syntax, or a value that is not what the reader
/// expected. Each renders as one line naming the source, the place (line and column, or the
/// field path) and, for values, what was found and what was expected:
/// `config.json: hidden_size is 128.5; expected an integer in 1...65536`.
public enum JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not JSON at all; `line` and `column` are 1-based.
    case syntax(source: String, line: Int, column: Int, detail: String)
    /// An object lacks a member the reader needs. `field` is its path (`rope_scaling.factor`).
    case missingField(source: String, field: String)
    /// A value of the wrong kind or out of range. `value` is how it is written (shortened).
    case invalidValue(source: String, field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .syntax(source, line, column, detail):
            "\(source):\(line):\(column): not valid JSON: \(detail)"
        case let .missingField(source, field):
            "\(source): missing field \(field)"
        case let .invalidValue(source, field, value, expected):
            "\(source): \(field.isEmpty ? "the top-level value" : field) is \(value); expected \(expected)"
        }
    }

    /// The file or text the error is about.
    public var source: String {
        switch self {
        case let .syntax(source, _, _, _), let .missingField(source, _), let .invalidValue(source, _, _, _): source
        }
    }
}
