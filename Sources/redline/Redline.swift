import ArgumentParser

@main
struct RedlineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redline",
        abstract: "Redline: a lock-free pre-trade risk engine.",
        subcommands: [Demo.self, LoadTestCommand.self, JournalCommand.self, WhatIfCommand.self, ServeCommand.self,
                      CtlCommand.self],
        defaultSubcommand: Demo.self)
}
