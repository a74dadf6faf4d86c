import Foundation
import HamCore
import HamJSON
import HTTPTypes

/// An error as OpenAI's API writes it: `{"error": {"message", "type", "param", "code"}}` with an
/// HTTP status. Every request that cannot be served ends in one of these, never in a crash or a
/// silent default.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// `invalid_request_error`, `authentication_error`, `not_found_error`, `server_error`,
    /// `unavailable_error`, `timeout_error` (the types llama-server uses, plus the timeout).
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    public var code: String?
    /// Seconds a client should wait before retrying (503).
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil,
                retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { message }

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static func unavailable(_ message: String, retryAfter: Int = 1) -> APIError {
        APIError(status: .serviceUnavailable, message: message, type: "unavailable_error", code: "unavailable",
                 retryAfter: retryAfter)
    }

    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    /// The engine's reason a request cannot run (or stopped), as the client should see it: what
    /// the request asked for is a 400, what went wrong inside is a 500.
    static func generation(_ error: Error) -> APIError {
        guard let error = error as? GenerationError else { return .server(String(describing: error)) }
        switch error {
        case .promptTooLong:
            return .invalid(error.description, param: "messages", code: "context_length_exceeded")
        case .kvBudgetTooSmall:
            return .invalid(error.description, param: "max_tokens", code: "kv_budget_exceeded")
        case .emptyPrompt, .tokenOutOfVocabulary:
            return .invalid(error.description, param: "prompt")
        case .invalidMaxTokens:
            return .invalid(error.description, param: "max_tokens")
        case .invalidConfidence:
            return .invalid(error.description, param: "confidence")
        case .invalidSampling, .notHAMburger:
            return .invalid(error.description)
        case .kvBudgetExhausted, .nonFinite, .unknownSequence, .backend:
            return .server(error.description)
        }
    }

    /// The error object: `{"error": {"message", "type", "param", "code"}}`, absent param and code as
    /// null (the SDKs read them).
    var json: JSONText {
        ["error": ["message": .string(message), "type": .string(type), "param": param.map { .string($0) } ?? .null,
                   "code": code.map { .string($0) } ?? .null]]
    }
}
