import Foundation
import HamCore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// How `hamrun serve` listens and what it admits.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Required of every request but `/health` when set.
    public var apiKey: String?
    public var limits: EngineLoop.Limits
    /// max_tokens of a request that does not say.
    public var defaultMaxTokens: Int
    public var maxBodyBytes: Int

    public init(host: String, port: Int, apiKey: String?, limits: EngineLoop.Limits, defaultMaxTokens: Int,
                maxBodyBytes: Int = 8 << 20) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.limits = limits
        self.defaultMaxTokens = defaultMaxTokens
        self.maxBodyBytes = maxBodyBytes
    }
}

/// `hamrun serve`: the OpenAI-compatible HTTP server on the batched engine.
///
/// Three services run in one swift-service-lifecycle group, which SIGTERM and SIGINT shut down
/// gracefully in reverse order: the shutdown watcher first (new requests get 503 from then on,
/// and in-flight ones have the grace period to finish before the engine cancels them), then the
/// HTTP server (it stops accepting and waits for its connections to end), then the engine's
/// thread. The process then exits 0.
public enum HamServer {
    /// Serves until a signal ends it. `load` builds the engine; it runs on the engine's own thread
    /// while the HTTP side already answers (`/health` is 503 until it is done). `onListening`
    /// gets the bound port (useful with port 0).
    public static func run(_ configuration: ServerConfiguration, model: ServedModel, logger: Logger,
                           onListening: @escaping @Sendable (String, Int) -> Void,
                           load: @escaping @Sendable () throws -> any InferenceEngine) async throws {
        let metrics = ServerMetrics()
        let loop = EngineLoop(limits: configuration.limits, metrics: metrics, logger: logger)
        let completions = Completions(model: model, loop: loop, metrics: metrics, defaultMaxTokens: configuration.defaultMaxTokens)
        let responder = ServeResponder(completions: completions, loop: loop, metrics: metrics, apiKey: configuration.apiKey,
                                       maxBodyBytes: configuration.maxBodyBytes)
        let host = configuration.host
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "hamrun"),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [EngineService(loop: loop, load: load), app, ShutdownWatcher(loop: loop)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A backstop: requests are cancelled after the grace period; connections that still do not
        // close are cut a little later.
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int((configuration.limits.shutdownGrace + 10) * 1000))
        try await ServiceGroup(configuration: groupConfiguration).run()
    }
}

/// Runs the engine's thread for as long as the group runs; a failed model load ends the group
/// with that error.
struct EngineService: Service {
    let loop: EngineLoop
    let load: @Sendable () throws -> any InferenceEngine

    func run() async throws {
        loop.start(load: load)
        if case .failed(let why) = await loop.loaded() {
            await loop.stop()
            throw ServeError(description: why)
        }
        try? await gracefulShutdown()
        await loop.stop()
    }
}

/// The first to hear of a shutdown: it turns new requests away and starts the grace period.
struct ShutdownWatcher: Service {
    let loop: EngineLoop

    func run() async throws {
        try? await gracefulShutdown()
        loop.beginDraining()
    }
}

public struct ServeError: Error, CustomStringConvertible {
    public let description: String
}
