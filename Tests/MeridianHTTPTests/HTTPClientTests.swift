import Foundation
import MeridianHTTP
import ProcessTestSupport
import Testing

@Suite("HTTPClient against a local HTTP server")
struct HTTPClientTests {
    let client = HTTPClient(userAgent: "meridian-test/1")

    @Test("GET sends the method, target and headers, and returns status, headers and body")
    func get() throws {
        let server = try TestHTTPServer { request in
            CannedResponse(
                status: 200, headers: [("X-Zone", "example.org"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                body: Array("hello \(request.target)".utf8))
        }
        defer { server.stop() }
        let response = try client.send(
            HTTPRequest(url: server.baseURL + "/v1/zones?name=x", headers: ["X-Meridian-Site": "site-a"]))
        #expect(response.status == 200)
        #expect(response.isSuccess)
        #expect(response.text == "hello /v1/zones?name=x")
        #expect(response.headers["x-zone"] == "example.org")
        #expect(response.headers.values(for: "Set-Cookie") == ["a=1", "b=2"])
        #expect(response.headers["Content-Length"] == "22")
        #expect(response.url == server.baseURL + "/v1/zones?name=x")

        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.target == "/v1/zones?name=x")
        #expect(request.header("X-Meridian-Site") == "site-a")
        #expect(request.header("User-Agent") == "meridian-test/1")
        #expect(request.header("Host") == "127.0.0.1:\(server.port)")
        #expect(request.body.isEmpty)
    }

    @Test("POST sends the body with its length and type, and no Expect: 100-continue")
    func post() throws {
        let server = try TestHTTPServer { request in
            CannedResponse(status: 201, reason: "Created", body: request.body.reversed())
        }
        defer { server.stop() }
        // Large enough that libcurl would normally ask for 100-continue.
        let payload =
            "{\"ticket\":\"ticket-A\",\"granted\":true,\"pad\":\"" + String(repeating: "x", count: 4096) + "\"}"
        let response = try client.send(
            HTTPRequest(
                method: .post, url: server.baseURL + "/grant", headers: ["Content-Type": "application/json"],
                text: payload))
        #expect(response.status == 201)
        #expect(response.body == Data(payload.utf8.reversed()))

        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Content-Length") == String(payload.utf8.count))
        #expect(!request.hasHeader("Expect"))
        #expect(request.body == Array(payload.utf8))
    }

    @Test("PUT, PATCH and DELETE use the method given, with or without a body; HEAD reads no body")
    func otherMethods() throws {
        let server = try TestHTTPServer { _ in CannedResponse(status: 204, reason: "No Content") }
        defer { server.stop() }
        _ = try client.send(HTTPRequest(method: .put, url: server.baseURL + "/a", text: "put-body"))
        _ = try client.send(HTTPRequest(method: .patch, url: server.baseURL + "/b", text: "patch-body"))
        let deleted = try client.send(HTTPRequest(method: .delete, url: server.baseURL + "/c"))
        #expect(deleted.status == 204)
        let empty = try client.send(HTTPRequest(method: .post, url: server.baseURL + "/d"))
        #expect(empty.status == 204)
        let requests = server.requests
        #expect(requests.map(\.method) == ["PUT", "PATCH", "DELETE", "POST"])
        #expect(requests.map { String(decoding: $0.body, as: UTF8.self) } == ["put-body", "patch-body", "", ""])
        #expect(requests[3].header("Content-Length") == "0")

        let headServer = try TestHTTPServer { _ in CannedResponse(body: Array("not sent".utf8)) }
        defer { headServer.stop() }
        let head = try client.send(HTTPRequest(method: .head, url: headServer.baseURL + "/"))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(head.headers["Content-Length"] == "8")
        #expect(headServer.requests.first?.method == "HEAD")
    }

    @Test("an error status is a response, not an error")
    func errorStatus() throws {
        let server = try TestHTTPServer { _ in
            CannedResponse(status: 503, reason: "Service Unavailable", body: Array("try later".utf8))
        }
        defer { server.stop() }
        let response = try client.send(HTTPRequest(url: server.baseURL + "/"))
        #expect(response.status == 503)
        #expect(!response.isSuccess)
        #expect(response.text == "try later")
    }

    @Test("CURLOPT_INTERFACE makes the request leave from the given local address")
    func localAddress() throws {
        let server = try TestHTTPServer { _ in CannedResponse() }
        defer { server.stop() }
        _ = try client.send(HTTPRequest(url: server.baseURL + "/", interface: "127.0.0.2"))
        _ = try client.send(HTTPRequest(url: server.baseURL + "/", interface: "host!127.0.0.3"))
        #expect(server.requests.map(\.peerAddress) == ["127.0.0.2", "127.0.0.3"])

        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(url: server.baseURL + "/", interface: "192.0.2.123"))
        }
        #expect(error?.kind == .interfaceUnavailable)
        #expect(error?.hint.contains("192.0.2.123") == true)
    }

    @Test("a refused connection throws with curl's message and a hint")
    func connectionRefused() throws {
        let port = try unusedLocalPort()
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(5)))
        }
        guard let error else { return }
        #expect(error.kind == .connectionFailed)
        #expect(error.curlCode == 7)
        #expect(error.message.contains("\(port)"))
        #expect(error.request == "GET http://127.0.0.1:\(port)/")
        #expect(error.description.contains("hint:"))
    }

    @Test("a server that does not answer in time gives timedOut")
    func timeout() throws {
        let server = try TestHTTPServer { _ in CannedResponse(delay: .seconds(3)) }
        defer { server.stop() }
        let clock = ContinuousClock()
        let started = clock.now
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(url: server.baseURL + "/slow", timeout: .milliseconds(300)))
        }
        #expect(error?.kind == .timedOut)
        #expect(clock.now - started < .seconds(2))
    }

    @Test("a body over maximumBodySize is refused")
    func bodyTooLarge() throws {
        let server = try TestHTTPServer { _ in CannedResponse(body: Array(repeating: 65, count: 100_000)) }
        defer { server.stop() }
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(url: server.baseURL + "/", maximumBodySize: 1000))
        }
        #expect(error?.kind == .bodyTooLarge)
        let whole = try client.send(HTTPRequest(url: server.baseURL + "/"))
        #expect(whole.body.count == 100_000)
    }

    @Test("only http and https URLs are accepted")
    func invalidURLs() {
        let ftp = #expect(throws: HTTPError.self) { try client.send(HTTPRequest(url: "ftp://127.0.0.1/file")) }
        #expect(ftp?.kind == .invalidURL)
        let file = #expect(throws: HTTPError.self) { try client.send(HTTPRequest(url: "file:///etc/passwd")) }
        #expect(file?.kind == .invalidURL)
        let garbage = #expect(throws: HTTPError.self) { try client.send(HTTPRequest(url: "http://[::1")) }
        #expect(garbage?.kind == .invalidURL)
    }

    @Test("one client sends from many threads at once")
    func concurrentRequests() async throws {
        let server = try TestHTTPServer { request in CannedResponse(body: Array(request.target.utf8)) }
        defer { server.stop() }
        let client = self.client
        let base = server.baseURL
        let bodies = await withTaskGroup(of: String?.self) { group in
            for index in 0..<12 {
                group.addTask { try? client.send(HTTPRequest(url: "\(base)/r\(index)")).text }
            }
            var all: [String] = []
            for await body in group { all.append(body ?? "failed") }
            return all
        }
        #expect(Set(bodies) == Set((0..<12).map { "/r\($0)" }))
    }
}
