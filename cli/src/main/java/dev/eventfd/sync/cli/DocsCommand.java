package dev.eventfd.sync.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Spec;

import java.util.Map;

/** The command's own documentation, generated from its picocli model so it never drifts from the code. */
final class DocsCommand {
    private DocsCommand() {}

    /** {@code eventfd-sync man}: the man page (roff) on stdout. */
    @Command(name = "man", mixinStandardHelpOptions = true,
            description = "Prints the man page (roff): eventfd-sync man > ~/.local/share/man/man1/eventfd-sync.1")
    static final class Man implements Runnable {
        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            System.out.print(manPage(spec.root()));
        }
    }

    /** {@code eventfd-sync completion}: the bash completion script (zsh: through bashcompinit) on stdout. */
    @Command(name = "completion", mixinStandardHelpOptions = true,
            description = {"Prints the bash completion script (zsh: run 'autoload -U +X bashcompinit && bashcompinit' first):",
                    "eventfd-sync completion > ~/.local/share/bash-completion/completions/eventfd-sync"})
    static final class Completion implements Runnable {
        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            System.out.print(AutoComplete.bash("eventfd-sync", spec.root().commandLine()));
        }
    }

    /** A man page of section 1 for {@code root} and its subcommands. */
    static String manPage(CommandSpec root) {
        StringBuilder b = new StringBuilder();
        String version = String.join(" ", root.version());
        b.append(".TH EVENTFD-SYNC 1 \"\" \"").append(roff(version)).append("\" \"User Commands\"\n");
        b.append(".SH NAME\n").append(root.name()).append(" \\- ").append(roff(String.join(" ", root.usageMessage().description()))).append('\n');
        b.append(".SH SYNOPSIS\n");
        for (CommandSpec sub : documented(root)) {
            b.append(".B ").append(root.name()).append(' ').append(sub.name()).append('\n');
            b.append(roff(synopsisArgs(sub))).append("\n.br\n");
        }
        b.append(".SH OPTIONS\n");
        options(b, root);
        for (CommandSpec sub : documented(root)) {
            b.append(".SH COMMAND: ").append(sub.name().toUpperCase(java.util.Locale.ROOT)).append('\n');
            for (String line : sub.usageMessage().description()) b.append(roff(line)).append("\n.PP\n");
            for (PositionalParamSpec p : sub.positionalParameters()) {
                if (p.hidden()) continue;
                b.append(".TP\n.I ").append(roff(p.paramLabel())).append('\n').append(roff(String.join(" ", p.description()))).append('\n');
            }
            options(b, sub);
        }
        b.append(".SH EXIT STATUS\n");
        for (Map.Entry<String, String> e : root.usageMessage().exitCodeList().entrySet()) {
            b.append(".TP\n.B ").append(roff(e.getKey().strip())).append('\n').append(roff(e.getValue())).append('\n');
        }
        b.append(".SH SEE ALSO\nflock(1), sem(1), sem_overview(7), eventfd(2)\n");
        return b.toString();
    }

    /** The subcommands a user types (not the help command, which only shows these pages). */
    private static java.util.List<CommandSpec> documented(CommandSpec root) {
        return root.subcommands().values().stream().map(CommandLine::getCommandSpec).distinct()
                .filter(c -> !(c.userObject() instanceof CommandLine.HelpCommand)).toList();
    }

    private static String synopsisArgs(CommandSpec sub) {
        StringBuilder b = new StringBuilder();
        for (OptionSpec o : sub.options()) {
            if (o.hidden() || o.usageHelp() || o.versionHelp()) continue;
            b.append(b.isEmpty() ? "" : " ").append('[').append(o.longestName()).append(o.arity().max() > 0 ? " " + o.paramLabel() : "").append(']');
        }
        for (PositionalParamSpec p : sub.positionalParameters()) {
            if (p.hidden()) continue;
            if (p.isMultiValue()) b.append(' ').append(p.paramLabel()).append("...");
            else b.append(' ').append(p.arity().min() == 0 ? "[" + p.paramLabel() + "]" : p.paramLabel());
        }
        return b.toString();
    }

    private static void options(StringBuilder b, CommandSpec spec) {
        for (OptionSpec o : spec.options()) {
            if (o.hidden()) continue;
            b.append(".TP\n.B ").append(roff(String.join(", ", o.names())));
            if (o.arity().max() > 0) b.append(" \\fI").append(roff(o.paramLabel())).append("\\fR");
            b.append('\n').append(roff(String.join(" ", o.description()).replace("${DEFAULT-VALUE}", String.valueOf(o.defaultValue())))).append('\n');
        }
    }

    /** Text safe in roff: backslashes and hyphens escaped, no line starting with a control character. */
    static String roff(String text) {
        String t = text.replace("\\", "\\e").replace("-", "\\-");
        return t.startsWith(".") || t.startsWith("'") ? "\\&" + t : t;
    }
}
