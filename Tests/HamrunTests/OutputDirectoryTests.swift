import Foundation
import HamChecks
import Testing

/// The one rule of the commands that write a model directory (docs/RELIABILITY.md): an existing
/// `--out` is refused without `--force`; with it the new directory is built beside and swapped in
/// when complete; an interrupt, a SIGKILL, a full disk or any failure leaves nothing behind and
/// never harms what was there.
@Suite(.serialized) struct OutputDirectoryTests {
    static let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
    static let checkpoint = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/hamburger.ckpt").path

    /// A fresh folder for one test; its entries are what the commands left.
    private func folder(_ name: String) throws -> String {
        let path = ScratchDirectory.root + "outdir-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func entries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// The contents of every file of a directory, to see that nothing changed.
    private func snapshot(_ directory: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for name in entries(directory) { files[name] = FileManager.default.contents(atPath: directory + "/" + name) }
        return files
    }

    /// The three writing commands with `--out OUT`.
    static func writers(_ out: String) -> [[String]] {
        [["random-model", "--shape", "tiny", "--out", out],
         ["quantize", "--model", base, "--out", out],
         ["convert", "--checkpoint", checkpoint, "--base", base, "--out", out]]
    }

    @Test func anExistingModelIsRefusedWithoutForceAndLeftAlone() throws {
        let dir = try folder("refuse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/model"
        try FileManager.default.copyItem(atPath: Self.base, toPath: out)
        let before = snapshot(out)
        for command in Self.writers(out) {
            let r = try HamrunProcess.run(command)
            #expect(r.status == 1, "\(command[0]): \(r.stderr)")
            #expect(r.stderr == "hamrun: error: \(out): already exists and is not empty; pass --force to replace it\n", "\(command[0])")
            #expect(snapshot(out) == before, "\(command[0]) changed the existing model")
            #expect(entries(dir) == ["model"], "\(command[0]) left \(entries(dir))")
        }
    }

    @Test func forceReplacesOnlyOnceTheNewModelIsComplete() throws {
        let dir = try folder("force")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/model"
        for command in Self.writers(out) {
            try? FileManager.default.removeItem(atPath: out)
            try FileManager.default.copyItem(atPath: Self.base, toPath: out)
            try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
            let r = try HamrunProcess.run(command + ["--force"])
            #expect(r.status == 0, "\(command[0]): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out + "/notes.txt"), "\(command[0]) kept the old directory")
            #expect(entries(dir) == ["model"], "\(command[0]) left \(entries(dir))")
            let g = try HamrunProcess.run(["generate", "--model", out, "--backend", "cpu", "--prompt-ids", "1,2", "--max-tokens", "2", "--json"])
            #expect(g.status == 0, "\(command[0]): \(g.stderr)")
        }
        // A failing --force run (here: a checkpoint that is not one) leaves the old model as it was.
        let before = snapshot(out)
        let junk = dir + "/junk.ckpt"
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: junk))
        let bad = try HamrunProcess.run(["convert", "--checkpoint", junk, "--base", Self.base, "--out", out, "--force"])
        #expect(bad.status == 1 && bad.stderr.contains("not a zip archive"), "\(bad.stderr)")
        #expect(snapshot(out) == before)
        #expect(entries(dir) == ["junk.ckpt", "model"])
    }

    @Test func randomModelRefusesDTypesHamrunCannotLoad() throws {
        let dir = try folder("dtype")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for dtype in ["u8", "i32"] {
            let r = try HamrunProcess.run(["random-model", "--shape", "tiny", "--dtype", dtype, "--out", dir + "/m"])
            #expect(r.status != 0 && r.stderr.contains("--dtype is \(dtype); expected bf16, f16, f32, q8_0"), "\(r.stderr)")
        }
        #expect(entries(dir).isEmpty)
    }

    /// Starts `arguments`, waits until its staging directory appears in `folder`, and sends
    /// `signal`; returns the process once it has ended.
    private func interrupt(_ arguments: [String], in folder: String, with signal: Int32) throws -> Process {
        let process = Process()
        process.executableURL = HamrunProcess.binary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && process.isRunning && !entries(folder).contains(where: { $0.contains(".partial-") }) {
            usleep(20_000)
        }
        // Into the writing, past the directory's creation.
        usleep(200_000)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func interruptedWritesLeaveNothingBehind(signal: Int32) throws {
        let dir = try folder("signal-\(signal)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/model"
        try FileManager.default.copyItem(atPath: Self.base, toPath: out)
        let before = snapshot(out)
        // The small shape takes seconds to write: the signal lands while it does.
        let p = try interrupt(["random-model", "--shape", "small", "--out", out, "--force"], in: dir, with: signal)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == signal, "\(p.terminationReason) \(p.terminationStatus)")
        #expect(entries(dir) == ["model"], "left \(entries(dir))")
        #expect(snapshot(out) == before)
    }

    /// SIGKILL cannot be caught: its leftovers are recognised by the next run for that output
    /// and removed (and the user told), and they never stop it.
    @Test func leftoversOfAKilledRunAreRemovedByTheNextOne() throws {
        let dir = try folder("sigkill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/model"
        let p = try interrupt(["random-model", "--shape", "small", "--out", out], in: dir, with: SIGKILL)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
        let left = entries(dir)
        #expect(left.count == 1 && left[0].hasPrefix(".model.partial-"), "\(left)")
        let r = try HamrunProcess.run(["random-model", "--shape", "tiny", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("removed \(dir)/\(left.first ?? "")"), "\(r.stderr)")
        #expect(entries(dir) == ["model"])
    }

    /// A SIGKILL between the two renames of a swap (where no atomic exchange exists) leaves the
    /// user's model aside; the next run puts it back.
    @Test func aModelLeftAsideByAKilledSwapIsRestored() throws {
        let dir = try folder("aside")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A process id that is not running: a child that has exited.
        let done = Process()
        done.executableURL = URL(fileURLWithPath: "/bin/true")
        try done.run()
        done.waitUntilExit()
        let aside = dir + "/.model.partial-\(done.processIdentifier)-1.old"
        try FileManager.default.copyItem(atPath: Self.base, toPath: aside)
        let before = snapshot(aside)
        let r = try HamrunProcess.run(["random-model", "--shape", "tiny", "--out", dir + "/model"])
        #expect(r.status == 1 && r.stderr.contains("already exists"), "\(r.stderr)")
        #expect(r.stderr.contains("restored \(dir)/model"), "\(r.stderr)")
        #expect(entries(dir) == ["model"])
        #expect(snapshot(dir + "/model") == before)
    }

    /// A full disk: one line naming the file, nothing left on the disk.
    @Test func aFullDiskLeavesNothingBehind() throws {
        let dir = try folder("enospc")
        defer {
            _ = try? HamrunProcess.shell("umount \(shellQuoted(dir))")
            try? FileManager.default.removeItem(atPath: dir)
        }
        let mount = try HamrunProcess.shell("mount -t tmpfs -o size=1m tmpfs \(shellQuoted(dir))")
        guard mount.status == 0 else {
            // Mounting needs CAP_SYS_ADMIN; the same code path runs in every write either way.
            print("skipped: cannot mount a small tmpfs here (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")
            return
        }
        for command in Self.writers(dir + "/model") {
            let r = try HamrunProcess.run(command)
            #expect(r.status == 1, "\(command[0]): \(r.stderr)")
            #expect(r.stderr.hasPrefix("hamrun: error: no space left on device while writing \(dir)/model/"), "\(command[0]): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(command[0]): \(r.stderr)")
            #expect(entries(dir).isEmpty, "\(command[0]) left \(entries(dir))")
        }
    }
}
