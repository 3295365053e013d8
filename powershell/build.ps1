#requires -Version 7.4
<#
.SYNOPSIS
    Builds the PmpMail module into a self-contained folder (default: dist/PmpMail at the repository root).
.DESCRIPTION
    Builds PmpMail.PowerShell (and PmpMail.Interop under it) for both editions and assembles the module folder:

        PmpMail.psd1           manifest; ModuleVersion, ProjectUri, LicenseUri and ReleaseNotes stamped from
                               Cargo.toml ([workspace.package] version and repository)
        PmpMail.psm1           root module: imports the build for the running edition
        PmpMail.Format.ps1xml  views of the output types
        PmpMail.PowerShell.dll, PmpMail.Interop.dll
                               Core (PowerShell 7.4+): net8.0
        Desktop/               Desktop (Windows PowerShell 5.1, .NET Framework 4.7.2+): the netstandard2.0 builds and
                               System.Text.Json with the packages it needs
        en-US/                 MAML help generated from help/*.psd1 and the compiled cmdlets
        runtimes/<rid>/native/ the native library, the one copy both editions load

    The native library comes from cargo's target folder ($env:CARGO_TARGET_DIR or target/; build it first with
    `cargo build -p pmp-mail`, or --release with -NativeProfile release) or from -NativeLibraryPath. Assemblies are
    built with ContinuousIntegrationBuild=true, so no path of this machine is written into them.
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

Write-Host "Building $project ($Configuration; net8.0 for Core, netstandard2.0 for Desktop)"
# ContinuousIntegrationBuild: source and .pdb paths are written as /_/..., not as this machine's paths.
& dotnet build $project -c $Configuration --nologo -v:q -p:GenerateFullPaths=true -p:ContinuousIntegrationBuild=true
if ($LASTEXITCODE -ne 0) { throw "dotnet build failed ($LASTEXITCODE)" }
$binDir = Join-Path $PSScriptRoot 'src' 'PmpMail.PowerShell' 'bin' $Configuration

if (Test-Path -LiteralPath $OutputPath) { Remove-Item -LiteralPath $OutputPath -Recurse -Force }
$nativeDir = Join-Path $OutputPath 'runtimes' $rid 'native'
$desktopDir = Join-Path $OutputPath 'Desktop'
New-Item -ItemType Directory -Path $nativeDir, $desktopDir -Force | Out-Null

# Core: the module's own two assemblies; PowerShell 7.4+ provides System.Text.Json and DPAPI.
foreach ($file in 'PmpMail.PowerShell.dll', 'PmpMail.Interop.dll') {
    Copy-Item -LiteralPath (Join-Path $binDir 'net8.0' $file) -Destination $OutputPath
}
# Desktop: exactly these. A new dependency must be added here on purpose; MSAL, Azure.Core or the Graph SDK never
# (the module's promise: nothing that clashes with other modules' authentication assemblies).
$desktopAssemblies = @(
    'PmpMail.PowerShell.dll', 'PmpMail.Interop.dll'
    'System.Text.Json.dll', 'System.Text.Encodings.Web.dll', 'Microsoft.Bcl.AsyncInterfaces.dll'
    'System.Memory.dll', 'System.Buffers.dll', 'System.Numerics.Vectors.dll', 'System.Runtime.CompilerServices.Unsafe.dll'
    'System.Threading.Tasks.Extensions.dll', 'System.Security.Cryptography.ProtectedData.dll'
)
$built = @(Get-ChildItem -LiteralPath (Join-Path $binDir 'netstandard2.0') -Filter '*.dll' -File).Name
$unexpected = @($built | Where-Object { $_ -notin $desktopAssemblies })
$missing = @($desktopAssemblies | Where-Object { $_ -notin $built })
if ($unexpected -or $missing) {
    throw "The Desktop build's assemblies changed (new: $($unexpected -join ', '); missing: $($missing -join ', ')). Review them and update `$desktopAssemblies in $PSCommandPath."
}
foreach ($file in $desktopAssemblies) {
    Copy-Item -LiteralPath (Join-Path $binDir 'netstandard2.0' $file) -Destination $desktopDir
}

Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'PmpMail.psm1') -Destination $OutputPath
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

# The manifest, stamped from Cargo.toml: the version (one place for every product) and the repository's URLs.
$version = Get-PmpVersion
$cargo = Get-Content -LiteralPath (Join-Path $repoRoot 'Cargo.toml') -Raw
$packageSection = [regex]::Match($cargo, '(?ms)^\[workspace\.package\]\s*$(.*?)(?=^\[)').Groups[1].Value
$repository = [regex]::Match($packageSection, '(?m)^repository\s*=\s*"([^"]+)"').Groups[1].Value.TrimEnd('/')
if (-not $repository) { throw 'Cargo.toml has no [workspace.package] repository' }
$stamps = [ordered]@{
    ModuleVersion = $version
    ProjectUri    = $repository
    LicenseUri    = "$repository/blob/main/LICENSE"
    ReleaseNotes  = "See CHANGELOG.md: $repository/blob/main/CHANGELOG.md"
}
$manifestText = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'PmpMail.psd1') -Raw
foreach ($key in $stamps.Keys) {
    $pattern = "(?m)^(\s*$key\s*=\s*)'[^']*'"
    if ([regex]::Matches($manifestText, $pattern).Count -ne 1) { throw "PmpMail.psd1 must have exactly one $key = '...' line" }
    $manifestText = [regex]::Replace($manifestText, $pattern, { param($m) $m.Groups[1].Value + "'" + $stamps[$key].Replace("'", "''") + "'" })
}
$manifestPath = Join-Path $OutputPath 'PmpMail.psd1'
[System.IO.File]::WriteAllText($manifestPath, $manifestText, [System.Text.UTF8Encoding]::new($false))
Write-Host "Manifest: ModuleVersion $version, ProjectUri $repository"

if (-not $SkipHelp) {
    $helpOut = Join-Path $OutputPath 'en-US'
    # A child process imports the freshly built module, so this session never locks its files.
    $pwshExe = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    & $pwshExe -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'help' 'Build-MamlHelp.ps1') -ModulePath $OutputPath -OutputPath $helpOut
    if ($LASTEXITCODE -ne 0) { throw "Help generation failed ($LASTEXITCODE)" }
}

$null = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
Write-Host "Module assembled in $OutputPath"
