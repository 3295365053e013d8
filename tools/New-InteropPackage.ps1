#requires -Version 7.4
<#
.SYNOPSIS
    Packs PmpMail.Interop as a NuGet package: artifacts/PmpMail.Interop.<version>.nupkg and its symbol
    package PmpMail.Interop.<version>.snupkg.
.DESCRIPTION
    The package holds lib/net8.0 and lib/netstandard2.0 (assembly + XML docs), the native library under
    runtimes/<rid>/native/, build/ and buildTransitive/net462/PmpMail.Interop.targets (copies the native
    libraries into .NET Framework apps' output), README.md, licence expression MIT and repository metadata.
    The .pdb files go to the .snupkg. <version> is Cargo.toml's [workspace.package] version (Get-PmpVersion;
    dotnet/Directory.Build.props reads the same line, so assembly, file and package versions all equal it).

    Deterministic: the assemblies are compiled with ContinuousIntegrationBuild=true (source paths mapped to
    /_/, no absolute path in the .dll or .pdb), and the archive entries get one fixed timestamp
    ($env:SOURCE_DATE_EPOCH, else the time of the last commit), so the same sources and native library
    give the same .nupkg bytes.

    The native library comes from target/<CargoProfile>/ for this machine's runtime (Get-PmpNativeLibrary);
    when it is not there, it is built once with cargo. CI passes -RuntimesDirectory instead: a folder with
    runtimes/<rid>/native/<library> for every runtime to ship.
.PARAMETER CargoProfile
    release (the default, what build.ps1 package uses) or debug (faster to build, for trying the package).
.PARAMETER RuntimesDirectory
    A folder holding runtimes/<rid>/native/<library> for each runtime to ship; packed as is, instead of the
    library from target/.
.PARAMETER OutputDirectory
    Where the packages go; default artifacts/ at the repository root. Earlier PmpMail.Interop packages there
    are removed first.
.OUTPUTS
    The package files (FileInfo): the .nupkg, then the .snupkg.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/New-InteropPackage.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/New-InteropPackage.ps1 -CargoProfile debug
#>
[CmdletBinding()]
param(
    [ValidateSet('release', 'debug')]
    [string] $CargoProfile = 'release',
    [string] $RuntimesDirectory,
    [string] $OutputDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$version = Get-PmpVersion
$project = Join-Path $repo 'dotnet' 'PmpMail.Interop' 'PmpMail.Interop.csproj'
if (-not $OutputDirectory) { $OutputDirectory = Join-Path $repo 'artifacts' }
$OutputDirectory = [System.IO.Path]::GetFullPath($OutputDirectory)
$started = [System.Diagnostics.Stopwatch]::StartNew()
Write-Host "PmpMail.Interop $version -> $OutputDirectory" -ForegroundColor Cyan

# The native libraries, as runtimes/<rid>/native/<file> under one folder.
if ($RuntimesDirectory) {
    $runtimesRoot = (Resolve-Path -LiteralPath $RuntimesDirectory).Path
    $libraries = @(Get-ChildItem -LiteralPath (Join-Path $runtimesRoot 'runtimes') -Directory -ErrorAction SilentlyContinue |
            ForEach-Object { Get-ChildItem -LiteralPath (Join-Path $_.FullName 'native') -File -ErrorAction SilentlyContinue })
    if ($libraries.Count -eq 0) { throw "No runtimes/<rid>/native/<library> under $runtimesRoot" }
}
else {
    $native = Get-PmpNativeLibrary -CargoProfile $CargoProfile
    if (-not (Test-Path -LiteralPath $native.Path -PathType Leaf)) {
        Write-Host "$($native.Path) is not built: building it" -ForegroundColor Yellow
        $cargoArguments = @('build', '-p', 'pmp-mail')
        if ($CargoProfile -eq 'release') { $cargoArguments += '--release' }
        Invoke-Native cargo $cargoArguments -WorkingDirectory $repo
    }
    # Staged under obj/ (ignored by git), so only the library itself is packed.
    $runtimesRoot = Join-Path $repo 'dotnet' 'PmpMail.Interop' 'obj' 'pack-runtimes'
    if (Test-Path -LiteralPath $runtimesRoot) { Remove-Item -LiteralPath $runtimesRoot -Recurse -Force }
    $nativeFolder = Join-Path $runtimesRoot 'runtimes' $native.RuntimeIdentifier 'native'
    New-Item -ItemType Directory -Path $nativeFolder -Force | Out-Null
    Copy-Item -LiteralPath $native.Path -Destination (Join-Path $nativeFolder $native.FileName)
}
Get-ChildItem -LiteralPath (Join-Path $runtimesRoot 'runtimes') -Recurse -File | ForEach-Object {
    Write-Host ("  native: {0} ({1:N1} MB)" -f [System.IO.Path]::GetRelativePath($runtimesRoot, $_.FullName).Replace('\', '/'), ($_.Length / 1MB))
}

# One fixed timestamp for every entry of the archives (NuGet's DeterministicTimestamp).
$timestamp = $env:SOURCE_DATE_EPOCH
if (-not $timestamp -and (Get-Command git -CommandType Application -ErrorAction SilentlyContinue)) {
    $timestamp = (& git -C $repo log -1 --format=%ct 2>$null)
    if ($LASTEXITCODE -ne 0) { $timestamp = $null }
}
if (-not $timestamp) { Write-Warning 'No SOURCE_DATE_EPOCH and no git commit: the archive entries get the current time.' }

$properties = @(
    '-p:ContinuousIntegrationBuild=true',
    "-p:PmpPackRuntimesDirectory=$runtimesRoot"
)
if ($timestamp) { $properties += "-p:DeterministicTimestamp=$timestamp" }

New-Item -ItemType Directory -Path $OutputDirectory -Force | Out-Null
Get-ChildItem -LiteralPath $OutputDirectory -File |
    Where-Object { $_.Name -match '^PmpMail\.Interop\.\d[^/\\]*\.s?nupkg$' } |
    ForEach-Object { Write-Host "  removing the earlier $($_.Name)" -ForegroundColor DarkGray; Remove-Item -LiteralPath $_.FullName }

# A full rebuild: an earlier Release build of the same project (the module's, say) without
# ContinuousIntegrationBuild would otherwise count as up to date and be packed with its absolute paths.
Invoke-Native dotnet (@('build', $project, '-c', 'Release', '--no-incremental', '-nologo') + $properties)
Invoke-Native dotnet (@('pack', $project, '-c', 'Release', '--no-build', '-nologo', '-o', $OutputDirectory) + $properties)

$package = Get-Item -LiteralPath (Join-Path $OutputDirectory "PmpMail.Interop.$version.nupkg")
$symbols = Get-Item -LiteralPath (Join-Path $OutputDirectory "PmpMail.Interop.$version.snupkg")
Add-Type -AssemblyName System.IO.Compression.FileSystem
foreach ($file in $package, $symbols) {
    Write-Host ("{0}  {1:N0} bytes ({2:N1} MB)" -f $file.Name, $file.Length, ($file.Length / 1MB)) -ForegroundColor Green
    $zip = [System.IO.Compression.ZipFile]::OpenRead($file.FullName)
    try {
        foreach ($entry in $zip.Entries | Sort-Object FullName) {
            Write-Host ("  {0,12:N0}  {1}" -f $entry.Length, $entry.FullName)
        }
    }
    finally { $zip.Dispose() }
}
Write-Host ("packed in {0:N1} s" -f $started.Elapsed.TotalSeconds)
$package
$symbols
