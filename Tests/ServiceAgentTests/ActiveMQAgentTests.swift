import Foundation
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agents/activemq against a real ActiveMQ 5.17 broker (Debian's activemq) on 127.0.82.1:
/// OpenWire 61616, STOMP 61613, KahaDB in a scratch directory.
@Suite(.serialized) struct ActiveMQAgentTests {
    let agent = OCFAgent("activemq")
    static let host = "127.0.82.1"

    struct Broker {
        let dir: ScratchDirectory
        let params: [String: String]
        let env: [String: String]
        var pidFile: String { dir.file("run/activemq-mq/broker.pid") }
        var pid: pid_t? {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        init(_ label: String) throws {
            dir = try ScratchDirectory("activemq-\(label)")
            chmod(dir.path, 0o755)
            try FileManager.default.createDirectory(atPath: dir.file("data"), withIntermediateDirectories: true)
            params = ["data_dir": dir.file("data"), "bind_address": ActiveMQAgentTests.host, "heap": "256m"]
            env = ["HA_RSCTMP": dir.file("run"), "OCF_RESOURCE_INSTANCE": "mq"]
        }
    }

    func cleanUp(_ broker: Broker) {
        if let pid = broker.pid {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
        _ = try? agent.run("stop", broker.params, env: broker.env)
        broker.dir.remove()
    }

    /// Sends STOMP frames to the broker and reads until `until` appears (or `timeout` passes);
    /// what was read.
    func stomp(_ frames: [String], until: String, timeout: Double = 10) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(61613).bigEndian
        inet_pton(AF_INET, Self.host, &addr.sin_addr)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return "connect failed: \(String(cString: strerror(errno)))" }
        let bytes = Array(frames.map { $0 + "\0" }.joined().utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received = ""
        let deadline = Date().addingTimeInterval(timeout)
        while !received.contains(until), Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return received
    }

    static let connectFrame = "CONNECT\naccept-version:1.2\nhost:meridian\n\n"

    @Test func lifecycleKeepsPersistentMessagesAcrossAStop() throws {
        let broker = try Broker("life")
        defer { cleanUp(broker) }
        #expect(try agent.run("monitor", broker.params, env: broker.env).status == 7)
        let start = try timed { try agent.run("start", broker.params, env: broker.env) }
        #expect(start.value.status == 0, "\(start.value.output)")
        #expect(try agent.run("start", broker.params, env: broker.env).status == 0)
        for level in ["0", "10"] {
            let r = try agent.run("monitor", broker.params, env: broker.env.merging(["OCF_CHECK_LEVEL": level]) { $1 })
            #expect(r.status == 0, "level \(level): \(r.output)")
        }
        #expect(FileManager.default.fileExists(atPath: broker.dir.file("data/kahadb/db.data")))
        let sent = stomp([Self.connectFrame, "SEND\ndestination:/queue/orders\npersistent:true\nreceipt:r1\n\norder-42"],
                         until: "RECEIPT")
        #expect(sent.contains("receipt-id:r1"), "\(sent)")

        let stop = try timed { try agent.run("stop", broker.params, env: broker.env) }
        #expect(stop.value.status == 0, "\(stop.value.output)")
        #expect(try agent.run("monitor", broker.params, env: broker.env).status == 7)
        #expect(try agent.run("stop", broker.params, env: broker.env).status == 0)
        #expect(!canConnectTCP(Self.host, 61616))
        let log = (try? String(contentsOfFile: broker.dir.file("run/activemq-mq/broker.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("Stopped KahaDB"), "\(log.suffix(2000))")

        #expect(try agent.run("start", broker.params, env: broker.env).status == 0)
        let got = stomp([Self.connectFrame, "SUBSCRIBE\nid:0\ndestination:/queue/orders\nack:auto\n\n"], until: "order-42")
        #expect(got.contains("MESSAGE") && got.contains("order-42"), "\(got)")
        print(String(format: "FIGURE agent=activemq start=%.2fs stop=%.2fs", start.seconds, stop.seconds))
    }

    /// A hung broker (SIGSTOP): monitor says 1 within its timeout (a TCP connect alone would
    /// still succeed: the kernel fills the listen backlog); stop kills it and returns 0.
    @Test func hungBrokerFailsMonitorAndIsKilledByStop() throws {
        let broker = try Broker("hung")
        defer { cleanUp(broker) }
        #expect(try agent.run("start", broker.params, env: broker.env).status == 0)
        let pid = try #require(broker.pid)
        kill(pid, SIGSTOP)
        #expect(canConnectTCP(Self.host, 61616))
        let monitor = try timed {
            try agent.run("monitor", broker.params, env: broker.env.merging(["OCF_RESKEY_CRM_meta_timeout": "9000"]) { $1 })
        }
        #expect(monitor.value.status == 1 && monitor.value.output.contains("does not greet"), "\(monitor.value.output)")
        #expect(monitor.seconds < 9)
        let stop = try timed {
            try agent.run("stop", broker.params, env: broker.env.merging(["OCF_RESKEY_CRM_meta_timeout": "8000"]) { $1 })
        }
        #expect(stop.value.status == 0 && stop.value.output.contains("SIGKILL"), "\(stop.value.output)")
        #expect(stop.seconds < 8)
        #expect(kill(pid, 0) != 0)
        #expect(try agent.run("monitor", broker.params, env: broker.env).status == 7)
    }

    @Test func validateAllNamesTheParameterAndTheFix() throws {
        let broker = try Broker("validate")
        defer { broker.dir.remove() }
        #expect(try agent.run("validate-all", broker.params, env: broker.env).status == 0)
        let cases: [(String, String?, Int32, String)] = [
            ("data_dir", nil, 6, "parameter 'data_dir' is not set"),
            ("port", "amqp", 6, "parameter 'port' is 'amqp'"),
            ("stomp_port", "99999", 6, "outside 1-65535"),
            ("heap", "lots", 6, "parameter 'heap' is 'lots'"),
            ("java", "/nonexistent/java", 5, "java '/nonexistent/java' is not installed"),
            ("activemq_home", "/nonexistent", 5, "/nonexistent/bin/activemq.jar not found"),
            ("user", "no-such-user", 2, "system user 'no-such-user' does not exist"),
            ("config", "/nonexistent/activemq.xml", 2, "is missing on this node"),
        ]
        for (key, value, code, text) in cases {
            var p = broker.params
            p[key] = value
            let r = try agent.run("validate-all", p, env: broker.env)
            #expect(r.status == code && r.output.contains("ocf-exit-reason:") && r.output.contains(text),
                    "\(key)=\(value ?? "unset"): exit \(r.status): \(r.output)")
        }
        var unmounted = broker.params
        unmounted["data_dir"] = broker.dir.file("not-mounted")
        let start = try agent.run("start", unmounted, env: broker.env)
        #expect(start.status == 2 && start.output.contains("mount the replicated volume first"), "\(start.output)")
    }

    @Test func passesOCFTester() throws {
        let broker = try Broker("ocf-tester")
        defer { cleanUp(broker) }
        let result = try agent.ocfTester(broker.params, env: broker.env)
        #expect(result.passed, "\(result.output)")
    }
}
