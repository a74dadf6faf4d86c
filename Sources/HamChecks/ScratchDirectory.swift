import Foundation
import HamCore
import HamLoad

/// Where the test suites write the model directories they make on the fly: one folder per
/// process, removed when it exits, so test runs leave nothing behind in the temporary directory.
public enum ScratchDirectory {
    /// `<tmp>/hamrun-<pid>/`, created on first use.
    public static let root: String = {
        let path = NSTemporaryDirectory() + "hamrun-\(getpid())/"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: ScratchDirectory.root) }
        return path
    }()
}
