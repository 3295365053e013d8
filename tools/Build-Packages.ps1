#requires -Version 7.4
<#
.SYNOPSIS
    `build.ps1 package`: every release package into artifacts/, from staged release libraries.
.DESCRIPTION
    The native libraries come from -NativeDirectory (CI: $env:PMP_NATIVE_DIR, the six runtimes'
    target/native/<rid>/ folders that the native job staged); without it, this machine's runtime
    is built and staged first (tools/Build-NativeRelease.ps1). Then, into artifacts/ (emptied of
    earlier packages first):

        PmpMail.<version>.nupkg                  the PowerShell module, as Publish-PSResource makes it
        PmpMail.Interop.<version>.nupkg/.snupkg  the NuGet library package and its symbols
        pmp-mail-<version>-<rid>.tar.gz          the C SDK, one per staged runtime
        SHA256SUMS                               over all of them (sha256sum -c reads it)

    With -ReleaseTag (CI: $env:PMP_RELEASE_TAG on a tag push) the tag must be v<version> and all
    six runtimes must be staged: a release never ships without one of them.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Build-Packages.ps1
#>
[CmdletBinding()]
param(
    [string] $NativeDirectory = $env:PMP_NATIVE_DIR,
    [string] $ReleaseTag = $env:PMP_RELEASE_TAG,
    [string] $OutputDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$version = Get-PmpVersion
if (-not $OutputDirectory) { $OutputDirectory = Join-Path $repo 'artifacts' }
if ($ReleaseTag -and $ReleaseTag -ne "v$version") { throw "The tag $ReleaseTag does not match the version in Cargo.toml ($version): tag v$version" }

if (-not $NativeDirectory) {
    $NativeDirectory = Join-Path (Get-PmpTargetDirectory) 'native'
    & (Join-Path $PSScriptRoot 'Build-NativeRelease.ps1') -OutputDirectory $NativeDirectory
}
$NativeDirectory = [IO.Path]::GetFullPath($NativeDirectory)
$staged = @(Get-ChildItem -LiteralPath $NativeDirectory -Directory | Where-Object { Test-Path -LiteralPath (Join-Path $_.FullName 'native-build.json') } |
        ForEach-Object { Get-Content -LiteralPath (Join-Path $_.FullName 'native-build.json') -Raw | ConvertFrom-Json | Add-Member -PassThru Folder $_.FullName })
if (-not $staged) { throw "No staged runtime (<rid>/native-build.json) under ${NativeDirectory}: run 'build.ps1 native' first" }
foreach ($runtime in $staged) {
    if ($runtime.version -ne $version) { throw "$($runtime.Folder) holds version $($runtime.version), Cargo.toml says $version" }
}
$missing = @((Get-PmpRuntimeTargets).Keys | Where-Object { $_ -notin $staged.runtime })
if ($ReleaseTag -and $missing) { throw "A release needs every runtime; not staged: $($missing -join ', ')" }
Write-Host "Packaging pmp-mail $version for $($staged.runtime -join ', ')$(if ($missing) { " (not staged: $($missing -join ', '))" })" -ForegroundColor Cyan

# runtimes/<rid>/native/<shared library>: the layout the module and the NuGet package share.
$work = Join-Path (Get-PmpTargetDirectory) 'package'
if (Test-Path -LiteralPath $work) { Remove-Item -LiteralPath $work -Recurse -Force }
foreach ($runtime in $staged) {
    $folder = Join-Path $work 'runtimes' $runtime.runtime 'native'
    New-Item -ItemType Directory -Path $folder -Force | Out-Null
    Copy-Item -LiteralPath (Join-Path $runtime.Folder $runtime.sharedLibrary) -Destination $folder
}

New-Item -ItemType Directory -Path $OutputDirectory -Force | Out-Null
Get-ChildItem -LiteralPath $OutputDirectory -File | Where-Object { $_.Name -match '\.(s?nupkg|tar\.gz)$' -or $_.Name -eq 'SHA256SUMS' } |
    ForEach-Object { Remove-Item -LiteralPath $_.FullName }

# The module's own build puts this machine's library under runtimes/<its rid>/; the rest are added.
$hostRuntime = (Get-PmpNativeLibrary).RuntimeIdentifier
$hostStage = @($staged | Where-Object runtime -EQ $hostRuntime)
if (-not $hostStage) { throw "The module is assembled on $hostRuntime, which is not staged under $NativeDirectory" }
& (Join-Path $PSScriptRoot 'New-ModulePackage.ps1') -OutputDirectory $OutputDirectory -ModulePath (Join-Path $work 'module' 'PmpMail') `
    -NativeLibraryPath (Join-Path $hostStage[0].Folder $hostStage[0].sharedLibrary) -RuntimesDirectory $work
& (Join-Path $PSScriptRoot 'New-InteropPackage.ps1') -OutputDirectory $OutputDirectory -RuntimesDirectory $work | Out-Null
foreach ($runtime in $staged) {
    & (Join-Path $PSScriptRoot 'New-CSdkPackage.ps1') -NativeDirectory $runtime.Folder -OutputDirectory $OutputDirectory
}

$packages = @(Get-ChildItem -LiteralPath $OutputDirectory -File | Where-Object { $_.Name -match '\.(s?nupkg|tar\.gz)$' } | Sort-Object Name)
$sums = foreach ($file in $packages) { "$((Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash.ToLowerInvariant())  $($file.Name)" }
[IO.File]::WriteAllText((Join-Path $OutputDirectory 'SHA256SUMS'), ($sums -join "`n") + "`n")

Write-Host "`nartifacts/ (pmp-mail $version):" -ForegroundColor Green
foreach ($file in $packages) { Write-Host ('  {0,-44} {1,12:N0} bytes ({2:N2} MiB)' -f $file.Name, $file.Length, ($file.Length / 1MB)) }
foreach ($runtime in $staged) {
    $floor = if ($runtime.glibcFloor) { ", glibc $($runtime.glibcFloor.version) or later" } else { '' }
    Write-Host ('  native {0,-12} {1} {2:N2} MiB{3}' -f $runtime.runtime, $runtime.sharedLibrary, ($runtime.sharedBytes / 1MB), $floor)
}
Write-Host '  SHA256SUMS'
