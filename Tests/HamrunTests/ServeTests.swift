import Foundation
import Testing

/// `hamrun serve` end to end: each test runs one scenario of Tests/Serve/serve_checks.py, which
/// starts real servers on loopback ports (the embedded model) and talks to them with the official
/// `openai` Python package and plain HTTP. Python is `$HAMRUN_PYTHON`, else the venv
/// Tools/install-deps makes when the system's python3 lacks `openai`, else python3.
@Suite(.serialized) struct ServeTests {
    static let script = HamrunProcess.repository.appendingPathComponent("Tests/Serve/serve_checks.py")

    static var python: String {
        if let given = ProcessInfo.processInfo.environment["HAMRUN_PYTHON"], !given.isEmpty { return given }
        let cache = ProcessInfo.processInfo.environment["HAMRUN_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hamrun").path
        let venv = cache + "/serve-venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }

    /// Runs a scenario; its report (and the server's log on failure) becomes the test's message.
    func scenario(_ name: String) throws {
        let cache = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hamrun/pycache").path
        // The openai package is large: let Python keep its compiled modules (outside the repository).
        let result = try HamrunProcess.shell(
            "unset PYTHONDONTWRITEBYTECODE; exec \(shellQuoted(Self.python)) \(shellQuoted(Self.script.path)) --hamrun \"$HAMRUN\" \(name)",
            environment: ["PYTHONPYCACHEPREFIX": cache])
        #expect(result.status == 0, "serve_checks \(name) failed:\n\(result.stdout)\n\(result.stderr)")
    }

    @Test func openAIClientOnChatAndCompletions() throws { try scenario("api") }
    @Test func chatFormatOfTheRealModelAndWholeCharacters() throws { try scenario("chat") }
    @Test func malformedRequestsTable() throws { try scenario("errors") }
    @Test func thirtyTwoConcurrentStreams() throws { try scenario("concurrency") }
    @Test func disconnectsAndTheBoundedQueue() throws { try scenario("cancel") }
    @Test func perRequestTimeout() throws { try scenario("timeout") }
    @Test func apiKey() throws { try scenario("auth") }
    @Test func sigtermUnderLoad() throws { try scenario("sigterm") }
    @Test func soakWithFlatMemory() throws { try scenario("soak") }
    @Test func twoReplicasBehindNginx() throws { try scenario("nginx") }
}
