#requires -Version 7.4
<#
.SYNOPSIS
    Builds the PmpMail module into a self-contained folder (default: dist/PmpMail at the repository root).
.DESCRIPTION
    Builds PmpMail.Interop and PmpMail.PowerShell, then assembles the module folder: manifest, the two
    assemblies, the format file, en-US MAML help generated from help/*.psd1, and the native library under
    runtimes/<rid>/native/. The native library comes from cargo's target folder ($env:CARGO_TARGET_DIR or target/; build it first with
    `cargo build -p pmp-mail`, or --release with -NativeProfile release) or from -NativeLibraryPath.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./powershell/build.ps1
.EXAMPLE
    cargo build -p pmp-mail --release; dotnet pwsh ./powershell/build.ps1 -NativeProfile release
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Cargo profile folder under target/ to take the native library from.
    [string] $NativeProfile = 'debug',

    # Explicit native library file; overrides -NativeProfile.
    [string] $NativeLibraryPath,

    [string] $OutputPath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'dist' 'PmpMail'),

    # Skip the MAML help step (faster inner loop).
    [switch] $SkipHelp,

    # Strip symbols from the copied native library (not from target/). Default: on for the release profile.
    [Nullable[bool]] $StripNative
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$repoRoot = Split-Path $PSScriptRoot -Parent
$project = Join-Path $PSScriptRoot 'src' 'PmpMail.PowerShell' 'PmpMail.PowerShell.csproj'

# The native library's file name and runtimes/<rid> folder, as NativeLibraryResolver.cs expects them.
Import-Module (Join-Path $repoRoot 'tools' 'PmpBuild.psm1')
$native = Get-PmpNativeLibrary -CargoProfile $NativeProfile
$rid = $native.RuntimeIdentifier
$nativeName = $native.FileName
if (-not $NativeLibraryPath) {
    $NativeLibraryPath = $native.Path
}
if (-not (Test-Path -LiteralPath $NativeLibraryPath -PathType Leaf)) {
    throw "Native library not found at '$NativeLibraryPath'. Build it first: cargo build -p pmp-mail$(if ($NativeProfile -eq 'release') { ' --release' })"
}

Write-Host "Building $project ($Configuration)"
$publishDir = Join-Path $PSScriptRoot 'obj' 'module'
& dotnet build $project -c $Configuration -o $publishDir --nologo -v:q -p:GenerateFullPaths=true
if ($LASTEXITCODE -ne 0) { throw "dotnet build failed ($LASTEXITCODE)" }

if (Test-Path -LiteralPath $OutputPath) { Remove-Item -LiteralPath $OutputPath -Recurse -Force }
$nativeDir = Join-Path $OutputPath 'runtimes' $rid 'native'
New-Item -ItemType Directory -Path $nativeDir -Force | Out-Null

foreach ($file in 'PmpMail.PowerShell.dll', 'PmpMail.Interop.dll') {
    Copy-Item -LiteralPath (Join-Path $publishDir $file) -Destination $OutputPath
}
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'PmpMail.psd1') -Destination $OutputPath
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'PmpMail.Format.ps1xml') -Destination $OutputPath
$nativeCopy = Join-Path $nativeDir $nativeName
Copy-Item -LiteralPath $NativeLibraryPath -Destination $nativeCopy
Write-Host "Native library: $NativeLibraryPath -> runtimes/$rid/native/$nativeName"
if ($null -eq $StripNative) { $StripNative = $NativeProfile -eq 'release' }
$strip = Get-Command strip -CommandType Application -ErrorAction Ignore | Select-Object -First 1
if ($StripNative -and -not $IsWindows -and $strip) {
    # Keeps the dynamic symbol table (the pmp_* exports); drops the rest, about 1.3 MB.
    & $strip.Source $(if ($IsMacOS) { '-x' } else { '--strip-unneeded' }) $nativeCopy
    if ($LASTEXITCODE -ne 0) { throw "strip failed ($LASTEXITCODE)" }
    Write-Host "Stripped symbols from the module's copy of the native library."
}

if (-not $SkipHelp) {
    $helpOut = Join-Path $OutputPath 'en-US'
    # A child process imports the freshly built module, so this session never locks its files.
    $pwshExe = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    & $pwshExe -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'help' 'Build-MamlHelp.ps1') -ModulePath $OutputPath -OutputPath $helpOut
    if ($LASTEXITCODE -ne 0) { throw "Help generation failed ($LASTEXITCODE)" }
}

Write-Host "Module assembled in $OutputPath"
