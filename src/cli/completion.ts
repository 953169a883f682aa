import type { CommandEntry } from './commands.js';
import { HELP_FLAG, parseTable, UsageError, type FlagDef, type FlagTable } from './flags.js';
import type { Io } from './run.js';

export const SHELLS = ['bash', 'zsh'] as const;

/** A command line's completion target: `serve`, or `ca status`. */
export interface CompletionNode {
  words: string[];
  summary: string;
  flags: Array<[string, FlagDef]>;
  /** Words taken as the first argument, e.g. the shell of `completion`. */
  positional?: readonly string[];
}

export interface CompletionModel {
  /** Top-level commands and, per command with subcommands, those subcommands. */
  commands: Array<{ name: string; summary: string; subcommands: Array<{ name: string; summary: string }> }>;
  nodes: CompletionNode[];
}

/** The same flag tables the parsers read, so a new flag is completed as soon as it is parsed. */
export async function completionModel(commands: Record<string, CommandEntry>): Promise<CompletionModel> {
  const model: CompletionModel = { commands: [], nodes: [] };
  for (const [name, entry] of Object.entries(commands)) {
    const tables = await entry.flags();
    const withHelp = (t: FlagTable) => Object.entries({ ...t, ...HELP_FLAG });
    if (entry.subcommands) {
      const subs = Object.entries(tables as Record<string, { summary: string; flags: FlagTable }>);
      model.commands.push({ name, summary: entry.summary, subcommands: subs.map(([s, d]) => ({ name: s, summary: d.summary })) });
      for (const [s, d] of subs) model.nodes.push({ words: [name, s], summary: d.summary, flags: withHelp(d.flags) });
    } else {
      model.commands.push({ name, summary: entry.summary, subcommands: [] });
      model.nodes.push({ words: [name], summary: entry.summary, flags: withHelp(tables as FlagTable) });
    }
  }
  const completion = model.nodes.find((n) => n.words[0] === 'completion');
  if (completion) completion.positional = SHELLS;
  return model;
}

const quoteWords = (words: readonly string[]) => words.join(' ').replace(/[^\w .|*,:/-]/g, '');

export function bashScript(m: CompletionModel): string {
  const valueCases: string[] = [];
  const flagCases: string[] = [];
  for (const node of m.nodes) {
    const key = node.words.join(' ');
    for (const [name, d] of node.flags) {
      if (d.type !== 'string') continue;
      const spellings = [`--${name}`, ...(d.short ? [`-${d.short}`] : [])].map((f) => `"${key}:${f}"`).join('|');
      const reply = d.choices ? `COMPREPLY=($(compgen -W "${quoteWords(d.choices)}" -- "$cur"))` : d.path ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
      valueCases.push(`    ${spellings}) ${reply}; return;;`);
    }
    const words = [...(node.positional ?? []), ...node.flags.map(([n]) => `--${n}`)];
    flagCases.push(`    "${key}") COMPREPLY=($(compgen -W "${quoteWords(words)}" -- "$cur"));;`);
  }
  const subCases = m.commands.filter((c) => c.subcommands.length).map((c) => `    ${c.name}) COMPREPLY=($(compgen -W "${quoteWords(c.subcommands.map((s) => s.name))}" -- "$cur")); return;;`);
  return `# meshid completion for bash: source <(meshid completion bash)
_meshid() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" key="\${COMP_WORDS[1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${quoteWords([...m.commands.map((c) => c.name), 'help'])}" -- "$cur")); return
  fi
  if [[ $COMP_CWORD -eq 2 ]]; then
    case "$key" in
${subCases.join('\n')}
    esac
  fi
  case "$key" in
${m.commands.filter((c) => c.subcommands.length).map((c) => `    ${c.name}) key="$key \${COMP_WORDS[2]}";;`).join('\n')}
  esac
  case "$key:$prev" in
${valueCases.join('\n')}
  esac
  case "$key" in
${flagCases.join('\n')}
  esac
}
complete -F _meshid meshid
`;
}

/** zsh _arguments spec text: no brackets, colons or quotes from a help line. */
const zshText = (s: string) => s.split('\n')[0]!.replace(/[[\]]/g, '').replace(/:/g, '\\:').replace(/'/g, '');

function zshFlag(name: string, d: FlagDef): string {
  const describe = `[${zshText(d.help)}]`;
  const value = d.type === 'boolean' ? '' : `:${zshText(d.arg ?? 'VALUE')}:${d.choices ? `(${quoteWords(d.choices)})` : d.path ? '_files' : ' '}`;
  const long = `'--${name}${d.type === 'string' ? '=' : ''}${describe}${value}'`;
  return d.short ? `'(-${d.short} --${name})'{-${d.short},--${name}${d.type === 'string' ? '=' : ''}}'${describe}${value}'` : long;
}

export function zshScript(m: CompletionModel): string {
  const describe = (items: Array<{ name: string; summary: string }>) => items.map((i) => `'${i.name}:${zshText(i.summary)}'`).join(' ');
  const arguments_ = (node: CompletionNode) => {
    const positional = node.positional ? [`'1:word:(${quoteWords(node.positional)})'`] : [];
    return ['_arguments', ...node.flags.map(([n, d]) => zshFlag(n, d)), ...positional].join(' ');
  };
  const cases = m.commands.map((c) => {
    if (!c.subcommands.length) return `    ${c.name}) ${arguments_(m.nodes.find((n) => n.words[0] === c.name)!)};;`;
    const subs = m.nodes.filter((n) => n.words[0] === c.name).map((n) => `        ${n.words[1]}) ${arguments_(n)};;`);
    return `    ${c.name})
      if (( CURRENT == 2 )); then local -a subs; subs=(${describe(c.subcommands)}); _describe subcommand subs; return; fi
      local sub=$words[2]; shift words; (( CURRENT-- ))
      case $sub in
${subs.join('\n')}
      esac;;`;
  });
  return `#compdef meshid
# meshid completion for zsh: source <(meshid completion zsh), or save as _meshid in a folder of $fpath
_meshid() {
  if (( CURRENT == 2 )); then local -a commands; commands=(${describe(m.commands)} 'help:help CMD is CMD --help'); _describe command commands; return; fi
  local cmd=$words[2]; shift words; (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _meshid "$@"; else compdef _meshid meshid; fi
`;
}

const USAGE = `usage: meshid completion bash|zsh

Prints a shell completion script for meshid's commands, flags and their values.
  bash: source <(meshid completion bash)      (or save it in /etc/bash_completion.d/meshid)
  zsh:  source <(meshid completion zsh)       (or save it as _meshid in a folder of $fpath)`;

export async function completionCommand(argv: string[], io: Io, commands: Record<string, CommandEntry>): Promise<number> {
  const [shell, ...rest] = argv;
  if (shell === '--help' || shell === '-h') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`${shell ? `"${shell.slice(0, 32)}" is not a shell meshid completes` : 'name a shell'}; use ${SHELLS.join(' or ')} (see meshid completion --help)`);
  }
  parseTable(rest, {}, `completion ${shell}`);
  const model = await completionModel(commands);
  io.stdout(shell === 'bash' ? bashScript(model) : zshScript(model));
  return 0;
}
