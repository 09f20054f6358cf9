// Damaged CIBs never crash unpacking or display: each either unpacks or throws a CIBError.
import CIB
import Foundation
import MeridianXML
import Testing

@Suite("Robustness", .serialized)
struct RobustnessTests {
    /// A few corpus inputs with clones, groups, failures and tickets.
    static let cases = ["1360", "failed-probe-clone", "ticket-promoted-9", "on_fail_demote2"]

    @Test("removing any one element or attribute never crashes unpacking or the display")
    func damaged() throws {
        var attempts = 0
        for name in Self.cases {
            let path = Corpus.file(name, "input.xml").path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let original = try XMLDocument(contentsOfFile: path, options: [.removeBlankText])
            let elements = try original.select("//*")
            // Every element removed in turn, and every attribute of configuration elements.
            for index in 1..<elements.count {
                let damaged = try original.editing { editor in
                    try editor.select("//*")[index].remove()
                }
                attempts += 1
                exercise(damaged)
            }
            for (index, element) in elements.enumerated() where element.name != "lrm_rsc_op" {
                for attribute in element.attributes {
                    let damaged = try original.editing { editor in
                        try editor.select("//*")[index].setAttribute(attribute.name, to: nil)
                    }
                    attempts += 1
                    exercise(damaged)
                }
            }
        }
        print("robustness: \(attempts) damaged CIBs unpacked or refused")
        #expect(attempts > 500)
    }

    func exercise(_ document: XMLDocument) {
        do {
            let model = try CIBModel.unpack(document, now: testNow)
            _ = model.renderCurrentStatus()
        } catch {
            #expect(!error.description.isEmpty)
        }
    }
}
