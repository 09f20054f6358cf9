import Foundation
import ProcessTestSupport
import ReplicaControl
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real meridian-replicad processes on 127.x addresses with files as backing devices, driven by
/// the `meridian volume` CLI and the libnbd tools. Serialized: each test starts two daemons.
@Suite(.serialized) struct ReplicaProcessTests {
    /// A `handlers { }` section whose handlers append the node's name to a file named after the
    /// handler in `$MARK_DIR` (set in the daemons' environment by ``markHandlers(_:)``).
    static func markingHandlers(_ names: [String]) -> String {
        "handlers { " + names.map { "\($0) \"echo $MERIDIAN_NODE >> $MARK_DIR/\($0)\";" }.joined(separator: " ") + " }"
    }

    /// Where the marking handlers write; returns a reader: the nodes that ran a handler.
    static func markHandlers(_ pair: ReplicaPair) -> (String) -> [String] {
        pair.daemonEnvironment["MARK_DIR"] = pair.directory
        return { name in
            ((try? String(contentsOfFile: pair.directory + "/" + name, encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init).sorted()
        }
    }

    /// Fresh volumes: no promotion without --force; the forced promotion starts the initial full
    /// sync; data written through NBD survives `kill -9` of the Primary and a promotion of the
    /// peer, byte for byte.
    @Test func initialSyncThenFailoverAfterKill() throws {
        let pair = try ReplicaPair(net: 61)
        try pair.startBoth()
        let fresh = try #require(pair.status("beta")?.volumes.first)
        #expect(fresh.disk == "Inconsistent")

        let refused = try pair.volume("alpha", ["primary"])
        #expect(refused.status == 1, "promotion without UpToDate data must be refused: \(refused.output)")
        #expect(refused.output.contains("UpToDate"))

        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        let synced = try #require(pair.status("beta")?.volumes.first)
        #expect(synced.resyncReceivedBytes == synced.sizeBytes, "the initial sync copies the whole volume")

        // While alpha is Primary, beta may not promote.
        let twoPrimaries = try pair.volume("beta", ["primary"])
        #expect(twoPrimaries.status == 1, "\(twoPrimaries.output)")

        let size = try #require(pair.status("alpha")?.volumes.first?.sizeBytes)
        let source = pair.directory + "/source.bin"
        try shell("head -c \(size) /dev/urandom > \(source)")
        try shell("nbdcopy \(source) '\(pair.nbdURI("alpha"))'")
        let expected = try checksum(source)

        pair.kill9("alpha")
        try pair.waitUntil("beta notices alpha is gone", timeout: 15) {
            pair.status("beta")?.connection?.state != "Connected"
        }
        try pair.must("beta", ["primary"])
        let copy = pair.directory + "/copy.bin"
        try shell("nbdcopy '\(pair.nbdURI("beta"))' \(copy)")
        #expect(try checksum(copy) == expected, "every write acknowledged by alpha is on beta")
    }

    /// After a disconnect, only the blocks written meanwhile cross the wire on reconnect.
    @Test func reconnectResyncsOnlyDirtyBlocks() throws {
        let pair = try ReplicaPair(net: 62)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        let before = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)

        try pair.must("alpha", ["disconnect"])
        try pair.waitUntil("alpha StandAlone", timeout: 10) { pair.status("alpha")?.connection?.state == "StandAlone" }
        let dirty: UInt64 = 10 << 20
        try shell("fio --name=dirty --ioengine=nbd --uri='\(pair.nbdURI("alpha"))' --rw=write --bs=1M "
            + "--offset=8M --size=\(dirty) --iodepth=4 >/dev/null")
        let outOfSync = try #require(pair.status("alpha")?.volumes.first?.outOfSyncBytes)
        #expect(outOfSync == dirty)

        try pair.must("alpha", ["connect"])
        try pair.waitConnected()
        try pair.waitInSync()
        let after = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)
        #expect(after - before == dirty, "resync sent \(after - before) bytes for \(dirty) dirty bytes")

        let disks = try pair.downBothAndChecksum()
        #expect(disks.alpha == disks.beta)
    }

    /// Bytes of resync data beta receives per second, over `seconds`.
    static func resyncRate(_ pair: ReplicaPair, over seconds: Double) throws -> Double {
        func received() throws -> (bytes: UInt64, at: Date) {
            (try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes), Date())
        }
        let start = try received()
        usleep(UInt32(seconds * 1_000_000))
        let end = try received()
        return Double(end.bytes - start.bytes) / end.at.timeIntervalSince(start.at)
    }

    /// `meridian volume adjust`: the file's resync-rate goes from 4M to 32M, both nodes adjust,
    /// and the running resync speeds up; a change adjust cannot apply (protocol) is refused by
    /// name and changes nothing.
    @Test func adjustChangesTheRateOfARunningResync() throws {
        let pair = try ReplicaPair(net: 76, sizeMiB: 96, disk: "c-plan-ahead 0; resync-rate 4M; c-max-rate 2G;")
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitUntil("beta is SyncTarget", timeout: 10) {
            pair.status("beta")?.volumes.first?.replication == "SyncTarget"
        }
        let mib = 1_048_576.0
        let slow = try Self.resyncRate(pair, over: 1.0)
        for node in pair.nodes {
            let text = try String(contentsOfFile: pair.config(node), encoding: .utf8)
            try text.replacingOccurrences(of: "resync-rate 4M", with: "resync-rate 32M")
                .replacingOccurrences(of: "  disk {", with: "  handlers { out-of-sync \"true\"; }\n  disk {")
                .write(toFile: pair.config(node), atomically: true, encoding: .utf8)
        }
        for node in pair.nodes {
            let adjusted = try pair.volume(node, ["adjust"])
            #expect(adjusted.status == 0 && adjusted.output.contains("adjusted resync controller and handlers"),
                    "\(adjusted.output)")
        }
        #expect(try pair.volume("alpha", ["adjust"]).output.contains("nothing to adjust"))
        usleep(300_000)
        let fast = try Self.resyncRate(pair, over: 1.0)
        print(String(format: "adjust: resync at %.1f MiB/s with resync-rate 4M, %.1f MiB/s after adjusting to 32M", slow / mib, fast / mib))
        #expect(slow > 2 * mib && slow < 6 * mib, "\(slow / mib) MiB/s at resync-rate 4M")
        #expect(fast > 16 * mib && fast < 40 * mib, "\(fast / mib) MiB/s at resync-rate 32M")

        let text = try String(contentsOfFile: pair.config("alpha"), encoding: .utf8)
        try text.replacingOccurrences(of: "protocol C", with: "protocol A")
            .write(toFile: pair.config("alpha"), atomically: true, encoding: .utf8)
        let refused = try pair.volume("alpha", ["adjust"])
        #expect(refused.status != 0 && refused.output.contains("also changed: protocol"), "\(refused.output)")
        #expect(refused.output.contains("down"), "the answer names the way to apply it")
        try pair.waitInSync()
    }

    /// DRBD's c-min-rate: while the Primary's application writes reach the SyncTarget, its
    /// resync requests drop to c-min-rate; once they stop, the resync is back at its rate. The
    /// SyncTarget is the Secondary here (the usual case), which sees those writes only as
    /// mirrored writes from its peer.
    @Test func resyncStepsAsideForApplicationWrites() throws {
        let pair = try ReplicaPair(net: 72, disk: "c-plan-ahead 0; resync-rate 16M; c-min-rate 512K; c-max-rate 2G;")
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitUntil("beta is SyncTarget", timeout: 10) {
            pair.status("beta")?.volumes.first?.replication == "SyncTarget"
        }
        func rate(over seconds: Double) throws -> Double { try Self.resyncRate(pair, over: seconds) }

        let mib = 1_048_576.0
        let before = try rate(over: 1.0)
        #expect(before > 8 * mib && before < 20 * mib, "resync at \(before / mib) MiB/s; resync-rate is 16 MiB/s")

        // 4 KiB writes at queue depth 1 within the first MiB, for 3 s.
        let fio = Process()
        fio.executableURL = URL(fileURLWithPath: "/usr/bin/fio")
        fio.arguments = ["--name=app", "--ioengine=nbd", "--uri=\(pair.nbdURI("alpha"))", "--rw=randwrite", "--bs=4k",
                         "--size=1M", "--time_based", "--runtime=3", "--iodepth=1"]
        fio.standardOutput = FileHandle.nullDevice
        fio.standardError = FileHandle.nullDevice
        try fio.run()
        usleep(700_000)  // fio connected and writing
        let during = try rate(over: 1.5)
        fio.waitUntilExit()
        #expect(fio.terminationStatus == 0)
        let after = try rate(over: 1.0)
        print(String(format: "resync rate (resync-rate 16M, c-min-rate 512K): %.1f MiB/s before, %.2f during, %.1f after the application writes",
                     before / mib, during / mib, after / mib))
        #expect(during < 2 * mib, "resync at \(during / mib) MiB/s during application writes; c-min-rate is 0.5 MiB/s")
        #expect(after > 8 * mib && after < 20 * mib, "resync at \(after / mib) MiB/s after the writes stopped; resync-rate is 16 MiB/s")

        try pair.waitInSync()
        let disks = try pair.downBothAndChecksum(demoteAlpha: true)
        #expect(disks.alpha == disks.beta)
    }

    /// After a crash of the Primary only the activity log's extents are resynced, not the whole
    /// volume: writes into two 4 MiB extents, `kill -9`, restart, reconnect; the crashed
    /// Primary is the SyncSource for exactly those two extents (the peer was not promoted).
    @Test func primaryCrashResyncsOnlyTheActivityLogExtents() throws {
        let pair = try ReplicaPair(net: 73)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        for offset in ["8M", "41M"] {  // extents 2 and 10
            try shell("fio --name=hot --ioengine=nbd --uri='\(pair.nbdURI("alpha"))' --rw=write --bs=64k "
                + "--offset=\(offset) --size=1M >/dev/null")
        }
        let before = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)

        pair.kill9("alpha")
        try pair.waitUntil("beta notices alpha is gone", timeout: 15) {
            pair.status("beta")?.connection?.state != "Connected"
        }
        try pair.start("alpha")
        try pair.must("alpha", ["up"])
        try pair.waitConnected()
        try pair.waitInSync()
        #expect(pair.log("alpha").contains("handshake with beta: SyncSource, disk UpToDate/Inconsistent, \(8 << 20) bytes out of sync"),
                "the crashed Primary is the source of its two hot extents:\n\(pair.log("alpha"))")
        let after = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)
        #expect(after - before == 8 << 20, "resynced \(after - before) bytes; the two hot extents are 8 MiB")

        let disks = try pair.downBothAndChecksum()
        #expect(disks.alpha == disks.beta)
    }

    /// Split brain in the making: in sync, cut apart, both Primary (alpha since before the cut,
    /// beta promoted alone), 1 MiB at 4 MiB written through NBD by each of `writers`, both
    /// demoted. alpha is StandAlone; the next `connect` meets the split brain.
    static func bothPrimaryWhileApart(_ pair: ReplicaPair, writers: [String]) throws {
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        try pair.must("alpha", ["disconnect"])
        try pair.waitUntil("beta no longer connected", timeout: 10) {
            pair.status("beta")?.connection?.state != "Connected"
        }
        try pair.must("beta", ["primary"])
        for node in writers {
            try shell("fio --name=sb --ioengine=nbd --uri='\(pair.nbdURI(node))' --rw=write --bs=64k --offset=4M --size=1M >/dev/null")
        }
        for node in pair.nodes { try pair.must(node, ["secondary"]) }
    }

    /// `after-sb-0pri discard-zero-changes`: both nodes were Primary while cut apart, only alpha
    /// wrote; on reconnect the split brain is detected and resolved without the administrator:
    /// beta discards its (empty) changes and receives exactly alpha's writes.
    @Test func splitBrainWithoutChangesOnOneSideIsResolvedByPolicy() throws {
        let pair = try ReplicaPair(net: 74, extraNet: "after-sb-0pri discard-zero-changes;",
                                   extraResource: Self.markingHandlers(["initial-split-brain", "split-brain"]))
        let ran = Self.markHandlers(pair)
        try Self.bothPrimaryWhileApart(pair, writers: ["alpha"])
        let before = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)

        try pair.must("alpha", ["connect"])
        try pair.waitInSync(timeout: 30)
        #expect((pair.log("alpha") + pair.log("beta")).lowercased().contains("split brain"))
        let after = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)
        #expect(after - before == 1 << 20, "beta received \(after - before) bytes; alpha changed 1 MiB")
        try pair.waitUntil("initial-split-brain ran on both nodes", timeout: 10) { ran("initial-split-brain") == ["alpha", "beta"] }
        #expect(ran("split-brain").isEmpty, "split-brain is for a split brain nobody resolved")

        let disks = try pair.downBothAndChecksum()
        #expect(disks.alpha == disks.beta)
    }

    /// A peer with the wrong shared-secret is refused and the refusal is logged.
    @Test func wrongSecretIsRefusedAndLogged() throws {
        let pair = try ReplicaPair(net: 63, secrets: ["alpha": "right-secret", "beta": "forged-secret"])
        for node in pair.nodes {
            try pair.start(node)
            try pair.must(node, ["create-md"])
            try pair.must(node, ["up"])
        }
        try pair.waitUntil("an authentication failure in a log", timeout: 10) {
            (pair.log("alpha") + pair.log("beta")).contains("AUTHENTICATION FAILED")
        }
        usleep(2_000_000)
        for node in pair.nodes {
            #expect(pair.status(node)?.connection?.state != "Connected")
        }
    }

    /// Both nodes write as Primary while disconnected: the reconnect detects split brain and,
    /// with the default policy, both stay StandAlone with their data untouched.
    @Test func splitBrainIsDetected() throws {
        let pair = try ReplicaPair(net: 64, extraResource: Self.markingHandlers(["initial-split-brain", "split-brain"]))
        let ran = Self.markHandlers(pair)
        try Self.bothPrimaryWhileApart(pair, writers: pair.nodes)
        let alphaData = try checksum(pair.disk("alpha"), length: 5 << 20)
        try pair.must("alpha", ["connect"])
        try pair.waitUntil("split brain reported", timeout: 15) {
            (pair.log("alpha") + pair.log("beta")).lowercased().contains("split brain")
        }
        usleep(1_500_000)
        #expect(pair.status("alpha")?.connection?.state != "Connected")
        #expect(try checksum(pair.disk("alpha"), length: 5 << 20) == alphaData, "no resync overwrote alpha")
        try pair.waitUntil("split-brain and initial-split-brain ran", timeout: 10) {
            ran("split-brain").contains("alpha") && ran("initial-split-brain").contains("alpha")
        }
    }

    /// ext4 on the replicated volume through nbdfuse and a loop device (direct I/O); the
    /// Primary is killed while the file system is mounted; on the promoted peer the journal
    /// replays, the files synced before the crash are intact and e2fsck finds nothing.
    @Test func ext4SurvivesAFailoverThroughNbdfuseAndLoop() throws {
        let pair = try ReplicaPair(net: 68, sizeMiB: 128)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        let fuse = pair.directory + "/fuse", mnt = pair.directory + "/mnt"
        try FileManager.default.createDirectory(atPath: fuse, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)

        /// Serves `node`'s volume as fuse/nbd and attaches it to a loop device.
        func attach(_ node: String) throws -> (Process, String) {
            let nbdfuse = Process()
            nbdfuse.executableURL = URL(fileURLWithPath: "/usr/bin/nbdfuse")
            nbdfuse.arguments = [fuse, "--unix", pair.nbdSocket(node)]
            try nbdfuse.run()
            try pair.waitUntil("nbdfuse's file", timeout: 10) { FileManager.default.fileExists(atPath: fuse + "/nbd") }
            let loop = try shell("losetup --direct-io=on -f --show \(fuse)/nbd").trimmingCharacters(in: .whitespacesAndNewlines)
            return (nbdfuse, loop)
        }
        func detach(_ nbdfuse: Process, _ loop: String) {
            _ = try? runProgram("/bin/umount", ["-l", mnt])
            _ = try? runProgram("/usr/sbin/losetup", ["-d", loop])
            _ = try? runProgram("/usr/bin/fusermount3", ["-u", fuse])
            nbdfuse.waitUntilExit()
        }

        var (nbdfuse, loop) = try attach("alpha")
        do {
            try shell("mkfs.ext4 -q \(loop) && mount \(loop) \(mnt)")
            try shell("head -c 8388608 /dev/urandom > \(mnt)/data.bin && cp \(Repository.root)/Package.swift \(mnt)/ && sync")
        } catch {
            detach(nbdfuse, loop)
            throw error
        }
        let expected = try shell("cd \(mnt) && sha256sum data.bin Package.swift")
        pair.kill9("alpha")  // crash with the file system mounted
        detach(nbdfuse, loop)

        try pair.waitUntil("beta notices alpha is gone", timeout: 15) { pair.status("beta")?.connection?.state != "Connected" }
        try pair.must("beta", ["primary"])
        (nbdfuse, loop) = try attach("beta")
        defer { detach(nbdfuse, loop) }
        try shell("mount \(loop) \(mnt)")
        #expect(try shell("cd \(mnt) && sha256sum data.bin Package.swift") == expected)
        try shell("umount \(mnt)")
        let fsck = try runProgram("/usr/sbin/e2fsck", ["-fn", loop])
        #expect(fsck.status == 0, "\(fsck.output)")
    }

    /// Online verify finds a block changed behind the replication's back (on the Secondary's
    /// backing file), marks it, and the next reconnect resyncs exactly that chunk. Protocol A,
    /// verify-alg sha512.
    @Test func onlineVerifyFindsAndReconnectRepairsADivergedBlock() throws {
        let pair = try ReplicaPair(net: 69, protocolName: "A", extraNet: "verify-alg sha512;",
                                   extraResource: Self.markingHandlers(["out-of-sync"]))
        let ran = Self.markHandlers(pair)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        try shell("fio --name=a --ioengine=nbd --uri='\(pair.nbdURI("alpha"))' --rw=write --bs=1M --size=16M >/dev/null")
        try pair.must("alpha", ["verify", "--wait"])
        #expect(pair.status("alpha")?.volumes.first?.outOfSyncBytes == 0, "in sync after protocol A writes and a flush")
        #expect(pair.status("alpha")?.volumes.first?.verify?.percentDone == 100)
        #expect(pair.log("alpha").contains("verify-alg sha512"))
        try pair.waitUntil("beta's verify end logged", timeout: 10) { pair.log("beta").contains("VerifyT, sha512") }
        #expect(pair.status("alpha")?.volumes.first?.verify?.running == false)
        #expect(ran("out-of-sync").isEmpty, "nothing differed")

        // Corrupt 4 KiB at 5 MiB on beta's backing file (the data area starts at offset 0).
        try shell("head -c 4096 /dev/urandom | dd of=\(pair.disk("beta")) bs=4096 seek=1280 conv=notrunc status=none")
        try pair.must("alpha", ["verify", "--wait"])
        let found = try #require(pair.status("alpha")?.volumes.first?.outOfSyncBytes)
        #expect(found == 256 << 10, "verify marks the 256 KiB chunk that differs (found \(found))")
        try pair.waitUntil("out-of-sync ran on both nodes", timeout: 10) { ran("out-of-sync") == ["alpha", "beta"] }
        let before = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)
        try pair.must("alpha", ["disconnect"])
        try pair.waitUntil("alpha StandAlone", timeout: 10) { pair.status("alpha")?.connection?.state == "StandAlone" }
        try pair.must("alpha", ["connect"])
        try pair.waitConnected()
        try pair.waitInSync()
        let after = try #require(pair.status("beta")?.volumes.first?.resyncReceivedBytes)
        #expect(after - before == 256 << 10, "only the marked chunk is resynced")
        try pair.must("alpha", ["verify", "--wait"])
        #expect(pair.status("alpha")?.volumes.first?.outOfSyncBytes == 0)
    }

    /// `fencing resource-and-stonith`: when the Primary loses its peer, writes are suspended
    /// (none is acknowledged on the Primary alone) until the fence-peer handler reports the peer
    /// fenced. A failing handler keeps them suspended until `resume-io`. The held writes reach
    /// the peer by resync when it comes back.
    @Test func resourceAndStonithSuspendsWritesUntilThePeerIsFenced() throws {
        let work = NSTemporaryDirectory() + "meridian-fence-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // The handler records its call, then waits for the test to give its exit code.
        let handler = work + "/fence-peer"
        try """
            #!/bin/sh
            echo "$DRBD_RESOURCE $DRBD_PEER" >> \(work)/calls
            i=0
            while [ ! -f \(work)/answer ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
            code=$(cat \(work)/answer 2>/dev/null || echo 1)
            rm -f \(work)/answer
            exit "$code"

            """.write(toFile: handler, atomically: true, encoding: .utf8)
        chmod(handler, 0o755)
        func calls() -> Int {
            ((try? String(contentsOfFile: work + "/calls", encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        func answer(_ code: Int) throws { try "\(code)\n".write(toFile: work + "/answer", atomically: true, encoding: .utf8) }

        let pair = try ReplicaPair(net: 70, extraNet: "fencing resource-and-stonith;",
                                   extraResource: "handlers { fence-peer \"\(handler)\"; }")
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()

        /// Starts a 64 KiB write at `offset` through alpha's NBD socket (fio in the background).
        func startWrite(offset: Int) throws -> Process {
            let fio = Process()
            fio.executableURL = URL(fileURLWithPath: "/usr/bin/fio")
            fio.arguments = ["--name=held", "--ioengine=nbd", "--uri=\(pair.nbdURI("alpha"))", "--rw=write", "--bs=64k",
                             "--size=64k", "--offset=\(offset)"]
            fio.standardOutput = FileHandle.nullDevice
            fio.standardError = FileHandle.nullDevice
            try fio.run()
            return fio
        }
        func waitExit(_ process: Process, timeout: Double) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            return !process.isRunning
        }

        // 1. The peer dies; the handler fails (exit 1): writes stay suspended until resume-io.
        pair.kill9("beta")
        try pair.waitUntil("the fence-peer handler runs", timeout: 15) { calls() == 1 }
        #expect(pair.status("alpha")?.suspended == true)
        #expect(try pair.volume("alpha", ["status"]).output.contains("suspended:fencing"))
        let first = try startWrite(offset: 1 << 20)
        usleep(1_500_000)
        #expect(first.isRunning, "no write is acknowledged while I/O is suspended")
        try answer(1)
        try pair.waitUntil("the handler's failure logged", timeout: 15) { pair.log("alpha").contains("handler exited 1") }
        usleep(1_000_000)
        #expect(first.isRunning, "a failed handler keeps I/O suspended")
        #expect(pair.status("alpha")?.suspended == true)
        #expect(pair.log("alpha").contains("resume-io"), "the log names the way out")
        try pair.must("alpha", ["resume-io"])
        #expect(waitExit(first, timeout: 15), "resume-io releases the held write")
        #expect(first.terminationStatus == 0)
        #expect(pair.status("alpha")?.suspended == false)
        let again = try pair.volume("alpha", ["resume-io"])
        #expect(again.status == 1 && again.output.contains("not suspended"), "\(again.output)")
        #expect(pair.status("alpha")?.volumes.first?.outOfSyncBytes == 64 << 10)

        // 2. The peer comes back: the held write is resynced; then it dies again and the handler
        // reports it fenced (exit 7): I/O resumes by itself.
        try pair.start("beta")
        try pair.must("beta", ["up"])
        try pair.waitConnected()
        try pair.waitInSync()
        pair.kill9("beta")
        try pair.waitUntil("the fence-peer handler runs again", timeout: 15) { calls() == 2 }
        let second = try startWrite(offset: 4 << 20)
        usleep(1_000_000)
        #expect(second.isRunning, "suspended again until the handler answers")
        try answer(7)
        #expect(waitExit(second, timeout: 15), "a fenced peer resumes I/O")
        #expect(second.terminationStatus == 0)
        #expect(pair.status("alpha")?.suspended == false)
        #expect(pair.log("alpha").contains("the peer was fenced"))

        // Every write alpha acknowledged reaches beta once it is back.
        try pair.start("beta")
        try pair.must("beta", ["up"])
        try pair.waitConnected()
        try pair.waitInSync()
        let disks = try pair.downBothAndChecksum(demoteAlpha: true)
        #expect(disks.alpha == disks.beta)

        // 3. A Secondary that cannot see its peer becomes Primary only once the fence-peer
        // handler reports the peer outdated (the peer might be a Primary with newer writes).
        try pair.must("alpha", ["up"])
        try pair.must("beta", ["up"])
        try pair.waitConnected()
        try pair.waitInSync()
        try pair.must("beta", ["disconnect"])
        try pair.waitUntil("alpha notices", timeout: 15) { pair.status("alpha")?.connection?.state != "Connected" }
        try answer(1)
        let refused = try pair.volume("beta", ["primary"])
        #expect(refused.status == 1 && refused.output.contains("peer is not outdated"), "\(refused.output)")
        #expect(calls() == 3, "the promotion ran the fence-peer handler")
        try answer(4)
        try pair.must("beta", ["primary"])
        #expect(calls() == 4)
        #expect(pair.status("beta")?.role == "Primary")
    }

    /// The whole chain with Agents/handlers/meridian-fence-peer and the real Pacemaker tools on a CIB
    /// file: the Primary loses its peer, its handler pins the Promoted role to it in the CIB and
    /// exits 4, the held write completes; the peer comes back, resyncs, and the constraint goes
    /// either DRBD 8.4's way (after-resync-target, on the SyncTarget) or DRBD 9's (unfence-peer,
    /// on the node that fenced, when its resync as SyncSource ends).
    @Test(arguments: ["after-resync-target", "unfence-peer"])
    func fencePeerHelperEndToEnd(unfenceWith: String) throws {
        let pair = try ReplicaPair(net: unfenceWith == "unfence-peer" ? 75 : 71, extraNet: "fencing resource-and-stonith;",
                                   extraResource: """
                                       handlers { fence-peer "\(Repository.root)/Agents/handlers/meridian-fence-peer";
                                                  \(unfenceWith) "\(Repository.root)/Agents/handlers/meridian-fence-peer --unfence"; }
                                       """)
        // The NFS example's CIB with the pair's node names and resource.
        let cib = pair.directory + "/cib.xml"
        let example = try String(contentsOfFile: Repository.root + "/Examples/services/nfs.xml", encoding: .utf8)
        try example.replacingOccurrences(of: "site-a-1", with: "alpha").replacingOccurrences(of: "site-a-2", with: "beta")
            .replacingOccurrences(of: "name=\"resource\" value=\"nfs\"", with: "name=\"resource\" value=\"r0\"")
            .write(toFile: cib, atomically: true, encoding: .utf8)
        pair.daemonEnvironment = ["CIB_file": cib]
        func constraint() throws -> Bool {
            try runProgram("/usr/sbin/cibadmin", ["--query", "--scope", "constraints"], environment: ["CIB_file": cib])
                .output.contains("meridian-fence-r0")
        }
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        #expect(try !constraint())

        pair.kill9("beta")
        try pair.waitUntil("alpha's handler answered", timeout: 15) { pair.log("alpha").contains("handler exited 4") }
        #expect(try constraint(), "the handler placed the constraint")
        try pair.waitUntil("I/O resumed", timeout: 10) { pair.status("alpha")?.suspended == false }
        try shell("fio --name=after --ioengine=nbd --uri='\(pair.nbdURI("alpha"))' --rw=write --bs=64k --size=256k >/dev/null")
        let simulated = try runProgram("/usr/sbin/crm_simulate", ["-x", cib, "-g", "ticket-nfs", "-S"])
        #expect(!simulated.output.contains("Promoted beta"), "the cluster would not promote beta: \(simulated.output)")

        try pair.start("beta")
        try pair.must("beta", ["up"])
        try pair.waitConnected()
        try pair.waitInSync()
        try pair.waitUntil("the \(unfenceWith) handler removed the constraint", timeout: 15) { try !constraint() }
        let unfencedBy = unfenceWith == "unfence-peer" ? "alpha" : "beta"
        #expect(pair.log(unfencedBy).contains("running \(unfenceWith) handler"), "\(pair.log(unfencedBy))")
    }
}
