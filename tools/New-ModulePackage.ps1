#requires -Version 7.4
<#
.SYNOPSIS
    Packs the PmpMail PowerShell module as the PowerShell Gallery serves it: artifacts/PmpMail.<version>.nupkg.
.DESCRIPTION
    1. The release native library: target/release (cargo's target folder), built once with
       `cargo build --release -p pmp-mail` when it is not there (-NativeLibraryPath names another file).
    2. The module folder (default dist/PmpMail) from powershell/build.ps1 -NativeProfile release: manifest stamped
       with the version of Cargo.toml, the root .psm1, the Core (net8.0) and Desktop (netstandard2.0) assemblies,
       MAML help, the format file, runtimes/<rid>/native/. -RuntimesDirectory adds the native libraries of other
       runtimes (a folder holding runtimes/<rid>/native/<file>, as CI stages them from its per-OS builds).
    3. Publish-PSResource (Microsoft.PowerShell.PSResourceGet, which ships with pwsh) into a local folder
       repository registered under a temporary name in a temporary folder, so the .nupkg is exactly what
       Publish-PSResource makes for the Gallery; copied to artifacts/. The repository is unregistered afterwards.
    4. The package contents checked (tools/Test-ModulePackage.ps1 -ContentOnly): the files a user needs, no .pdb,
       no test files, no path of this machine, Test-ModuleManifest passes, the version is Cargo.toml's.
    Prints the package path, its size and its listing.
.EXAMPLE
    dotnet pwsh ./tools/New-ModulePackage.ps1
.EXAMPLE
    dotnet pwsh ./tools/New-ModulePackage.ps1 -RuntimesDirectory ./staged-natives   # CI: every runtime in one package
#>
[CmdletBinding()]
param(
    # Where the .nupkg goes.
    [string] $OutputDirectory = (Join-Path (Split-Path $PSScriptRoot -Parent) 'artifacts'),
    # Where the module folder is assembled (its last segment must be PmpMail).
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'dist' 'PmpMail'),
    # The native library for this machine's runtime; default: target/release, built when missing.
    [string] $NativeLibraryPath,
    # Optional: a folder with runtimes/<rid>/native/<library> for more runtimes, copied into the module.
    [string] $RuntimesDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')
Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop

$version = Get-PmpVersion
if ((Split-Path $ModulePath -Leaf) -ne 'PmpMail') { throw "-ModulePath must end in a folder named PmpMail (Publish-PSResource names the package after it): $ModulePath" }

# 1. The release native library.
if (-not $NativeLibraryPath) {
    $native = Get-PmpNativeLibrary -CargoProfile release
    $NativeLibraryPath = $native.Path
    if (-not (Test-Path -LiteralPath $NativeLibraryPath -PathType Leaf)) {
        Write-Host "No release native library at $NativeLibraryPath; building it." -ForegroundColor Yellow
        Invoke-Native cargo @('build', '--release', '-p', 'pmp-mail') -WorkingDirectory $root
    }
}
if (-not (Test-Path -LiteralPath $NativeLibraryPath -PathType Leaf)) { throw "The native library is not at $NativeLibraryPath" }

# 2. The module folder.
Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'powershell' 'build.ps1'),
    '-NativeProfile', 'release', '-NativeLibraryPath', $NativeLibraryPath, '-OutputPath', $ModulePath)
if ($RuntimesDirectory) {
    $extra = Join-Path $RuntimesDirectory 'runtimes'
    if (-not (Test-Path -LiteralPath $extra -PathType Container)) { throw "-RuntimesDirectory has no runtimes/ folder: $RuntimesDirectory" }
    foreach ($file in Get-ChildItem -LiteralPath $extra -Recurse -File) {
        $relative = [IO.Path]::GetRelativePath($extra, $file.FullName)
        if ($relative -notmatch '^[^/\\]+[/\\]native[/\\][^/\\]+$') { throw "Not a runtimes/<rid>/native/<file> entry: runtimes/$relative" }
        $target = Join-Path $ModulePath 'runtimes' $relative
        New-Item -ItemType Directory -Force -Path (Split-Path $target) | Out-Null
        Copy-Item -LiteralPath $file.FullName -Destination $target -Force
        Write-Host "Added runtimes/$($relative.Replace('\', '/'))"
    }
}
$manifest = Test-ModuleManifest -Path (Join-Path $ModulePath 'PmpMail.psd1') -ErrorAction Stop
if ("$($manifest.Version)" -ne $version) { throw "The module's version is $($manifest.Version), Cargo.toml's is $version" }

# 3. Publish-PSResource into a temporary local repository.
$work = Join-Path ([IO.Path]::GetTempPath()) ('pmp-module-package-' + [guid]::NewGuid().ToString('n'))
$feed = Join-Path $work 'feed'
New-Item -ItemType Directory -Force -Path $feed | Out-Null
$repositoryName = 'pmp-mail-pack-' + [guid]::NewGuid().ToString('n').Substring(0, 12)
try {
    Register-PSResourceRepository -Name $repositoryName -Uri $feed -Trusted
    try {
        Publish-PSResource -Path $ModulePath -Repository $repositoryName
    }
    finally {
        Unregister-PSResourceRepository -Name $repositoryName
    }
    $made = @(Get-ChildItem -LiteralPath $feed -Filter '*.nupkg' -File)
    $name = "PmpMail.$version.nupkg"
    if ($made.Count -ne 1 -or $made[0].Name -ne $name) { throw "Publish-PSResource made '$($made.Name -join "', '")', expected $name" }
    New-Item -ItemType Directory -Force -Path $OutputDirectory | Out-Null
    $package = Join-Path $OutputDirectory $name
    Copy-Item -LiteralPath $made[0].FullName -Destination $package -Force
}
finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}

# 4. What is in it.
& (Join-Path $PSScriptRoot 'Test-ModulePackage.ps1') -PackagePath $package -ContentOnly
Write-Host ("{0}: {1:N2} MB (module folder {2:N2} MB)" -f $package, ((Get-Item -LiteralPath $package).Length / 1MB),
    ((Get-ChildItem -LiteralPath $ModulePath -Recurse -File | Measure-Object Length -Sum).Sum / 1MB)) -ForegroundColor Green
