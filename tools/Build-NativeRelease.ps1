#requires -Version 7.4
<#
.SYNOPSIS
    The release native library of one runtime, staged for packaging: target/native/<rid>/.
.DESCRIPTION
    `build.ps1 native [-Runtime <rid>]` runs this on the runner of each runtime (CI's native job);
    `build.ps1 package` runs it for this machine's runtime when PMP_NATIVE_DIR names no staged
    libraries. Everything that needs the runtime's own tools happens here, so packaging on one
    Linux machine only assembles files:

      1. cargo rustc --release -p pmp-mail --lib --crate-type cdylib,staticlib --target <triple>
         A plain `cargo build --release` builds cdylib, staticlib and rlib in one rustc run, and
         rustc cannot run LTO with an rlib among them, so cargo drops `lto` without a word
         (rust-lang/cargo#9672). --target keeps this build out of target/release.
         RUSTFLAGS (as CARGO_ENCODED_RUSTFLAGS) remap this machine's paths (the repository, the
         home folder with cargo's registry or a vendor folder, CARGO_HOME) in panic locations,
         so the library names no path of the machine that built it. On Linux the SONAME is set
         at link time (libpmp_mail.so.0.<minor> before 1.0; Get-PmpCSdkLayout).
      2. target/native/<rid>/: the shared library (and the import library on Windows), the static
         library without debug sections, and native-build.json: runtime, target, version, sizes,
         the flags a static link needs (rustc --print native-static-libs, plus the frameworks
         security-framework links on macOS) and, on Linux, the glibc symbol-version floor.
    Prints the sizes and the glibc floor.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Build-NativeRelease.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Build-NativeRelease.ps1 -Runtime linux-arm64
#>
[CmdletBinding()]
param(
    # A runtime identifier: win-x64, win-arm64, linux-x64, linux-arm64, osx-x64, osx-arm64 (default: this machine's).
    [string] $Runtime,
    # Where target/native/<rid> goes (default: <cargo target dir>/native).
    [string] $OutputDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$version = Get-PmpVersion
if (-not $Runtime) { $Runtime = (Get-PmpNativeLibrary).RuntimeIdentifier }
$targets = Get-PmpRuntimeTargets
if (-not $targets.Contains($Runtime)) { throw "Unknown runtime '$Runtime'; the release runtimes are: $($targets.Keys -join ', ')" }
$triple = $targets[$Runtime]
$layout = Get-PmpCSdkLayout -Version $version -RuntimeIdentifier $Runtime
if (-not $OutputDirectory) { $OutputDirectory = Join-Path (Get-PmpTargetDirectory) 'native' }
$stage = Join-Path $OutputDirectory $Runtime

function Format-Size([long] $Bytes) { '{0:N0} bytes ({1:N2} MiB)' -f $Bytes, ($Bytes / 1MB) }

function Get-RemapFlags {
    # Later remaps win in rustc, so the most specific folder comes last.
    $folders = [ordered]@{}
    $homeFolder = [Environment]::GetFolderPath('UserProfile')
    if ($homeFolder) { $folders[$homeFolder] = '~' }
    $cargoHome = $env:CARGO_HOME
    if ($cargoHome -and -not $cargoHome.StartsWith($homeFolder, [StringComparison]::Ordinal)) { $folders[$cargoHome] = 'cargo-home' }
    $folders[$repo] = 'pmp-mail'
    foreach ($folder in $folders.Keys) { "--remap-path-prefix=$($folder.TrimEnd('/', '\'))=$($folders[$folder])" }
}

function Get-NativeStaticLibs {
    # What a program linking the static library must add: rustc's own list for the standard
    # library on this target (an empty staticlib prints it), plus what pmp-mail's dependencies
    # link on top: nothing on Linux and Windows (aws-lc is inside the archive), the Security and
    # CoreFoundation frameworks on macOS (security-framework).
    $probe = Join-Path ([IO.Path]::GetTempPath()) ('pmp-native-libs-' + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $probe | Out-Null
    try {
        $source = Join-Path $probe 'probe.rs'
        Set-Content -LiteralPath $source -Value 'pub fn probe() {}' -Encoding utf8NoBOM
        $run = Invoke-NativeCapture rustc @('--crate-type', 'staticlib', '--crate-name', 'probe', '--edition', '2021',
            '--target', $triple, '--print', 'native-static-libs', '--out-dir', $probe, $source)
        if ($run.ExitCode -ne 0) { throw "rustc could not build a staticlib for $triple (rustup target add $triple)" }
        $line = [regex]::Match($run.StandardError, 'native-static-libs:\s*(.+)')
        if (-not $line.Success) { throw 'rustc printed no native-static-libs line' }
        $flags = [Collections.Generic.List[string]]::new()
        $words = @($line.Groups[1].Value.Trim() -split '\s+')
        for ($i = 0; $i -lt $words.Count; $i++) {
            # -framework NAME is one flag of two words.
            if ($words[$i] -eq '-framework' -and $i + 1 -lt $words.Count) { $flags.Add("-framework $($words[++$i])") }
            else { $flags.Add($words[$i]) }
        }
        if ($layout.Os -eq 'osx') { $flags.InsertRange(0, [string[]]@('-framework Security', '-framework CoreFoundation')) }
        # Keep the first of each (rustc may repeat -lc); order matters for static links.
        @($flags | Select-Object -Unique)
    }
    finally {
        Remove-Item -LiteralPath $probe -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Get-GlibcFloor([string] $Path) {
    # The highest GLIBC_x.y symbol version the library references: the oldest glibc it loads on.
    Install-PmpSystemPackage -Command objdump -Package binutils
    $symbolTable = (& objdump -T $Path) -join "`n"
    if ($LASTEXITCODE -ne 0) { throw "objdump -T $Path failed" }
    $versions = @([regex]::Matches($symbolTable, 'GLIBC_(\d+(?:\.\d+)+)') | ForEach-Object { [version]$_.Groups[1].Value } | Sort-Object -Unique)
    if (-not $versions) { return $null }
    $floor = $versions[-1]
    $symbols = @([regex]::Matches($symbolTable, "(?m)GLIBC_$([regex]::Escape($floor.ToString()))\)?\s+(\S+)\s*$") |
            ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
    [ordered]@{ version = "$floor"; neededBy = $symbols }
}

# 1. The build.
$rustFlags = @(Get-RemapFlags)
if ($layout.Os -eq 'linux') { $rustFlags += "-Clink-arg=-Wl,-soname,$($layout.Soname)" }
$saved = $env:CARGO_ENCODED_RUSTFLAGS
# The unit separator is cargo's list separator: paths with spaces stay whole.
$env:CARGO_ENCODED_RUSTFLAGS = $rustFlags -join [char]0x1f
try {
    Invoke-Native cargo @('rustc', '--release', '-p', 'pmp-mail', '--lib', '--crate-type', 'cdylib,staticlib', '--target', $triple) -WorkingDirectory $repo
}
finally {
    $env:CARGO_ENCODED_RUSTFLAGS = $saved
}

# 2. The stage.
$built = Join-Path (Get-PmpTargetDirectory) $triple 'release'
$cargoShared = switch ($layout.Os) { 'linux' { 'libpmp_mail.so' } 'osx' { 'libpmp_mail.dylib' } 'win' { 'pmp_mail.dll' } }
$cargoStatic = if ($layout.Os -eq 'win') { 'pmp_mail.lib' } else { 'libpmp_mail.a' }
if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }
New-Item -ItemType Directory -Path $stage -Force | Out-Null
$files = @($cargoShared, $cargoStatic) + @(if ($layout.Os -eq 'win') { "$cargoShared.lib" })
foreach ($file in $files) {
    $from = Join-Path $built $file
    if (-not (Test-Path -LiteralPath $from -PathType Leaf)) { throw "cargo did not make $from" }
    Copy-Item -LiteralPath $from -Destination $stage
}
$stagedStatic = Join-Path $stage $cargoStatic
# A build without LTO holds one object per crate (reqwest-<hash>.reqwest.<hash>-cgu.0.rcgu.o);
# with LTO one pmp_mail object (plus compiler_builtins and aws-lc's C objects).
if ($layout.Os -ne 'win') {
    $members = @(& ar t $stagedStatic)
    if ($LASTEXITCODE -ne 0) { throw "ar t $stagedStatic failed" }
    $perCrate = @($members | Where-Object { $_ -match '^[a-z0-9_]+-[0-9a-f]{16}\..+\.rcgu\.o$' -and $_ -notlike 'compiler_builtins-*' })
    if ($perCrate) { throw "$stagedStatic was built without LTO ($($perCrate.Count) per-crate objects such as $($perCrate[0]))" }
}
# The static library without debug sections (std's and aws-lc's): a fifth smaller, every symbol kept.
# The shared one is stripped by the release profile (strip = true).
switch ($layout.Os) {
    'linux' { Install-PmpSystemPackage -Command strip -Package binutils; Invoke-Native strip @('--strip-debug', $stagedStatic) }
    'osx' { Invoke-Native strip @('-S', $stagedStatic) }
}
$sharedPath = Join-Path $stage $cargoShared
$glibc = if ($layout.Os -eq 'linux') { Get-GlibcFloor $sharedPath } else { $null }
$staticLibs = @(Get-NativeStaticLibs)
$report = [ordered]@{
    runtime          = $Runtime
    target           = $triple
    version          = $version
    sharedLibrary    = $cargoShared
    staticLibrary    = $cargoStatic
    sharedBytes      = (Get-Item -LiteralPath $sharedPath).Length
    staticBytes      = (Get-Item -LiteralPath $stagedStatic).Length
    nativeStaticLibs = $staticLibs
    glibcFloor       = $glibc
}
$report | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath (Join-Path $stage 'native-build.json') -Encoding utf8NoBOM

Write-Host ''
Write-Host "pmp-mail $version, $Runtime ($triple), release profile: $stage" -ForegroundColor Green
Write-Host "  shared library  $cargoShared $(Format-Size $report.sharedBytes)"
Write-Host "  static library  $cargoStatic $(Format-Size $report.staticBytes)"
if ($glibc) { Write-Host "  glibc floor     GLIBC_$($glibc.version) (needed by $($glibc.neededBy -join ', '))" }
Write-Host "  static link needs  $($staticLibs -join ' ')"
$binary = [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($sharedPath))
foreach ($folder in @($repo, [Environment]::GetFolderPath('UserProfile')) | Where-Object { $_ }) {
    if ($binary.Contains($folder.TrimEnd('/', '\') + [IO.Path]::DirectorySeparatorChar, [StringComparison]::Ordinal)) {
        throw "$sharedPath names ${folder}: the path remapping missed it"
    }
}
