import Foundation
import HamJSON
import HamTokenizer
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context: Hummingbird's, nothing added (bodies are collected here with our own limit).
struct ServeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// Routes, API keys, body limits and errors. Every failure answers with OpenAI's error object: an
/// unknown path is a 404, a known path with the wrong method a 405 (with `Allow`), a body over
/// the limit a 413, a missing or wrong key a 401 (`/health` needs none, so probes work).
struct ServeResponder: HTTPResponder {
    typealias Context = ServeContext

    let completions: Completions
    let loop: EngineLoop
    let metrics: ServerMetrics
    let apiKey: String?
    let maxBodyBytes: Int

    private var model: ServedModel { completions.model }

    private enum Route: CaseIterable {
        case health, models, model, chat, completions, tokenize, detokenize, metrics

        var method: HTTPRequest.Method {
            switch self {
            case .health, .models, .model, .metrics: .get
            default: .post
            }
        }
    }

    private func route(_ path: String) -> Route? {
        switch path {
        case "/health": .health
        case "/v1/models": .models
        case "/v1/chat/completions": .chat
        case "/v1/completions": .completions
        case "/tokenize": .tokenize
        case "/detokenize": .detokenize
        case "/metrics": .metrics
        default: path.hasPrefix("/v1/models/") && path.count > "/v1/models/".count ? .model : nil
        }
    }

    func respond(to request: Request, context: ServeContext) async throws -> Response {
        let response: Response
        do {
            response = try await dispatch(request)
        } catch let error as APIError {
            response = Self.response(error)
        } catch is NIOTooManyBytesError {
            response = Self.response(APIError(status: .contentTooLarge, message: "the request body is larger than \(maxBodyBytes) bytes",
                                              type: "invalid_request_error", code: "request_too_large"))
        } catch is CancellationError {
            // The client closed the connection; nobody reads this.
            response = Self.response(APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                                              message: "the client closed the connection", type: "invalid_request_error"))
        } catch {
            response = Self.response(.server(String(describing: error)))
        }
        metrics.response(status: response.status.code)
        return generates(request.uri.path) ? Self.closing(response) : response
    }

    private func generates(_ path: String) -> Bool { path == "/v1/chat/completions" || path == "/v1/completions" }

    /// Generation watches the connection for the client leaving (Hummingbird's inbound-close
    /// watch), which ends the connection after the response: the response says so, so that
    /// keep-alive clients open a new one instead of failing on a closed socket.
    private static func closing(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }

    private func dispatch(_ request: Request) async throws -> Response {
        let path = request.uri.path
        guard let route = route(path) else {
            throw APIError(status: .notFound, message: "no route \(request.method) \(path)", type: "not_found_error", code: "not_found")
        }
        guard request.method == route.method else {
            var error = Self.response(APIError(status: .methodNotAllowed,
                                               message: "\(path) takes \(route.method), not \(request.method)",
                                               type: "invalid_request_error", code: "method_not_allowed"))
            error.headers[.allow] = route.method.rawValue
            return error
        }
        if route != .health { try authorize(request) }
        switch route {
        case .health:
            return health()
        case .models:
            return Self.json(["object": "list", "data": [modelObject()]])
        case .model:
            let name = String(path.dropFirst("/v1/models/".count))
            guard name == model.name else {
                throw APIError(status: .notFound, message: "the model '\(name)' does not exist; this server serves '\(model.name)'",
                               type: "not_found_error", param: "model", code: "model_not_found")
            }
            return Self.json(modelObject())
        case .metrics:
            var buffer = ByteBuffer()
            buffer.writeBytes(metrics.exposition())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: buffer))
        case .chat, .completions, .tokenize, .detokenize:
            var request = request
            let body = Array(buffer: try await request.collectBody(upTo: maxBodyBytes))
            switch route {
            case .chat: return try await completions.respond(to: request, body: body, kind: .chat)
            case .completions: return try await completions.respond(to: request, body: body, kind: .text)
            case .tokenize: return try tokenize(body)
            default: return try detokenize(body)
            }
        }
    }

    /// 200 once the model is loaded and while serving; 503 while loading, after a failed load and
    /// while shutting down. It reads the engine loop's last snapshot, so it answers at once even
    /// while a long prefill runs.
    private func health() -> Response {
        let snapshot = loop.snapshot
        switch snapshot.phase {
        case .ready:
            return Self.json(["status": "ok", "running": .integer(snapshot.running), "waiting": .integer(snapshot.waiting)])
        case .loading:
            return Self.response(.unavailable("the model is still loading"))
        case .draining, .stopped:
            return Self.response(.unavailable("the server is shutting down"))
        case .failed(let why):
            return Self.response(.unavailable("the model failed to load: \(why)", retryAfter: 60))
        }
    }

    private func modelObject() -> JSONText {
        ["id": .string(model.name), "object": "model", "created": .integer(model.created), "owned_by": "hamrun",
         "meta": ["context_length": .integer(model.contextLength), "vocab_size": .integer(model.vocabularySize),
                  "hamburger": .bool(model.isHAMburger)]]
    }

    /// `Authorization: Bearer KEY` (OpenAI's SDKs) or `X-Api-Key: KEY`, compared in constant time.
    private func authorize(_ request: Request) throws {
        guard let apiKey else { return }
        var given = request.headers[.authorization].flatMap { value -> String? in
            value.lowercased().hasPrefix("bearer ") ? String(value.dropFirst("bearer ".count)) : nil
        }
        if given == nil { given = request.headers[HTTPField.Name("X-Api-Key")!] }
        guard let given else {
            throw APIError(status: .unauthorized, message: "no API key given; send Authorization: Bearer KEY",
                           type: "authentication_error", code: "invalid_api_key")
        }
        let a = Array(given.utf8), b = Array(apiKey.utf8)
        var difference = a.count ^ b.count
        for i in 0..<max(a.count, b.count) { difference |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)) }
        guard difference == 0 else {
            throw APIError(status: .unauthorized, message: "the API key is wrong", type: "authentication_error", code: "invalid_api_key")
        }
    }

    /// llama-server's `/tokenize`: `{"content": "text", "add_special": true}` → `{"tokens": [...]}`.
    private func tokenize(_ body: [UInt8]) throws -> Response {
        guard let tokenizer = model.tokenizer else { throw APIError.invalid("this model has no tokenizer") }
        let (content, addSpecial) = try Self.reading(body) { root in
            try Self.only(["content", "add_special", "parse_special"], in: root)
            return (try root.required("content").string(), try root.optional("add_special")?.bool() ?? true)
        }
        let ids = tokenizer.encode(content, addSpecialTokens: addSpecial, parseSpecialTokens: false)
        return Self.json(["tokens": .array(ids.map { .integer($0) })])
    }

    /// `{"tokens": [...]}` → `{"content": "text"}`.
    private func detokenize(_ body: [UInt8]) throws -> Response {
        guard let tokenizer = model.tokenizer else { throw APIError.invalid("this model has no tokenizer") }
        let ids = try Self.reading(body) { root in
            try Self.only(["tokens"], in: root)
            return try root.required("tokens").integers(in: 0...Int(Int32.max)).map(Int32.init)
        }
        if let bad = ids.first(where: { tokenizer.bytes(forId: $0) == nil }) {
            throw APIError.invalid("token id \(bad) is outside the vocabulary; expected 0..<\(tokenizer.vocabSize)", param: "tokens")
        }
        let text = (try? tokenizer.decode(ids)) ?? ""
        return Self.json(["content": .string(text)])
    }

    private static func reading<T>(_ body: [UInt8], _ read: (JSONValue) throws -> T) throws -> T {
        do {
            let root = try JSONDocument(body, source: "request body").root
            guard case .object = root.kind else { throw APIError.invalid("the request body is \(root.shown); expected a JSON object") }
            return try read(root)
        } catch let error as JSONError {
            throw CompletionRequest.apiError(error)
        }
    }

    private static func only(_ fields: Set<String>, in root: JSONValue) throws {
        for member in root.members where !fields.contains(member.name) {
            throw APIError.invalid("unknown parameter '\(member.name)'; expected \(fields.sorted().joined(separator: ", "))",
                                   param: member.name, code: "unknown_parameter")
        }
    }

    static func json(_ value: JSONText, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.compact())))
    }

    static func response(_ error: APIError) -> Response {
        var response = json(error.json, status: error.status)
        if let seconds = error.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}
