#requires -Version 7.4
<#
.SYNOPSIS
    Tests artifacts/PmpMail.<version>.nupkg the way a user meets it: its contents, then installed from a
    PSResource repository into an empty module path, imported by name in a fresh pwsh, sending through the emulator.
.DESCRIPTION
    Contents (also run by tools/New-ModulePackage.ps1, with -ContentOnly):
      - exactly the module's files: PmpMail.psd1/.psm1/.Format.ps1xml, the Core assemblies, Desktop/ (the Windows
        PowerShell 5.1 build), en-US/ help, runtimes/<rid>/native/<library> (this machine's runtime at least),
        and the .nuspec and packaging files Publish-PSResource writes; so no .pdb, no test file, no deps.json
      - the .nuspec: id PmpMail, the version of Cargo.toml, tags, project/licence URLs, release notes
      - Test-ModuleManifest passes on the unpacked manifest; no MSAL, Azure or Graph SDK assembly
      - no path of this machine (the repository, the home folder) in any file, as UTF-8 or UTF-16
    Install (unless -ContentOnly):
      - a local PSResource repository over a folder holding only this package; on Linux a child pwsh with its own
        XDG_DATA_HOME (so its PSResourceGet settings and CurrentUser module path are new and empty) registers it
        and runs Install-PSResource PmpMail -Scope CurrentUser. On Windows and macOS, where the CurrentUser
        paths cannot be redirected for one process, Save-PSResource -IncludeXml saves it into an empty folder
        (the same download and unpacking), from a repository registered under a temporary name and removed after.
      - a fresh `dotnet pwsh` whose PSModulePath is only that folder: Import-Module PmpMail by name,
        Test-PmpMailPermission and Send-PmpMail (HTML, non-ASCII, an attachment) against the emulator's demo
        tenant (Start-PmpEmulator -Demo -Strict); the message must arrive.
      - prints the installed module's import time (stopwatch around Import-Module in fresh processes, median).
.EXAMPLE
    dotnet pwsh ./tools/New-ModulePackage.ps1; dotnet pwsh ./tools/Test-ModulePackage.ps1
#>
[CmdletBinding()]
param(
    # Default: artifacts/PmpMail.<version>.nupkg.
    [string] $PackagePath,
    # Only check what is in the package (no install, no emulator).
    [switch] $ContentOnly,
    # Fresh processes whose import time is measured.
    [int] $ImportRuns = 5,
    # Which PowerShell imports the installed module and sends: Core (pwsh, everywhere) or Desktop (Windows
    # PowerShell 5.1, powershell.exe; Windows only). The install itself always runs in pwsh.
    [ValidateSet('Core', 'Desktop')]
    [string] $Edition = 'Core'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')
Add-Type -AssemblyName System.IO.Compression.FileSystem

$version = Get-PmpVersion
if ($Edition -eq 'Desktop' -and -not $IsWindows) { throw 'The Desktop edition is Windows PowerShell 5.1 (powershell.exe): Windows only' }
if (-not $PackagePath) { $PackagePath = Join-Path $root 'artifacts' "PmpMail.$version.nupkg" }
if (-not (Test-Path -LiteralPath $PackagePath -PathType Leaf)) { throw "No package at $PackagePath; make it with tools/New-ModulePackage.ps1" }
$PackagePath = (Resolve-Path -LiteralPath $PackagePath).Path
$native = Get-PmpNativeLibrary
$run = New-PmpCheckRun
$work = Join-Path ([IO.Path]::GetTempPath()) ('pmp-module-test-' + [guid]::NewGuid().ToString('n'))
$unpacked = Join-Path $work 'unpacked'
New-Item -ItemType Directory -Force -Path $unpacked | Out-Null
[IO.Compression.ZipFile]::ExtractToDirectory($PackagePath, $unpacked)
$entries = @(Get-ChildItem -LiteralPath $unpacked -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($unpacked, $_.FullName).Replace('\', '/') } | Sort-Object)

Write-Host ("{0}: {1:N2} MB, {2} files" -f $PackagePath, ((Get-Item -LiteralPath $PackagePath).Length / 1MB), $entries.Count) -ForegroundColor Cyan
$zip = [IO.Compression.ZipFile]::OpenRead($PackagePath)
try {
    $zip.Entries | Sort-Object FullName | ForEach-Object { '{0,12:N0}  {1}' -f $_.Length, $_.FullName } | Write-Host
}
finally { $zip.Dispose() }

try {
    Invoke-PmpCheck $run 'the package holds the module files and nothing else' {
        $required = @(
            'PmpMail.nuspec', 'PmpMail.psd1', 'PmpMail.psm1', 'PmpMail.Format.ps1xml'
            'PmpMail.PowerShell.dll', 'PmpMail.Interop.dll', 'en-US/PmpMail.PowerShell.dll-Help.xml'
            'Desktop/PmpMail.PowerShell.dll', 'Desktop/PmpMail.Interop.dll', 'Desktop/System.Text.Json.dll'
            "runtimes/$($native.RuntimeIdentifier)/native/$($native.FileName)"
        )
        $missing = @($required | Where-Object { $_ -notin $entries })
        if ($missing) { throw "missing: $($missing -join ', ')" }
        $allowed = '^(PmpMail\.(nuspec|psd1|psm1|Format\.ps1xml|PowerShell\.dll|Interop\.dll)|en-US/PmpMail\.PowerShell\.dll-Help\.xml|Desktop/[^/]+\.dll|runtimes/[a-z]+-[a-z0-9]+/native/(lib)?pmp_mail\.(dll|so|dylib)|\[Content_Types\]\.xml|_rels/\.rels|package/services/metadata/core-properties/[^/]+\.psmdcp)$'
        $unexpected = @($entries | Where-Object { $_ -cnotmatch $allowed })
        if ($unexpected) { throw "unexpected files: $($unexpected -join ', ')" }
        $forbidden = @($entries | Where-Object { $_ -match '\.pdb$|\.deps\.json$|[Tt]ests?/|\.Tests\.ps1$|(^|/)(Microsoft\.Identity|Azure\.|Microsoft\.Graph|Microsoft\.IdentityModel|System\.IdentityModel)[^/]*\.dll$' })
        if ($forbidden) { throw "forbidden files: $($forbidden -join ', ')" }
    }

    Invoke-PmpCheck $run "the .nuspec says PmpMail $version with tags, URLs and release notes" {
        [xml] $nuspec = Get-Content -LiteralPath (Join-Path $unpacked 'PmpMail.nuspec') -Raw
        $metadata = $nuspec.package.metadata
        if ($metadata.id -cne 'PmpMail') { throw "id is $($metadata.id)" }
        if ($metadata.version -ne $version) { throw "version is $($metadata.version), Cargo.toml says $version" }
        $tags = "$($metadata.tags)" -split '\s+'
        foreach ($tag in 'PSModule', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS') {
            if ($tag -notin $tags) { throw "tag $tag missing (tags: $($metadata.tags))" }
        }
        foreach ($field in 'projectUrl', 'licenseUrl', 'releaseNotes', 'description', 'authors') {
            if (-not $metadata.$field) { throw "no $field" }
        }
        "tags: $($metadata.tags)"
        "projectUrl: $($metadata.projectUrl); licenseUrl: $($metadata.licenseUrl)"
    }

    Invoke-PmpCheck $run 'Test-ModuleManifest passes on the unpacked manifest, with the version of Cargo.toml' {
        $manifest = Test-ModuleManifest -Path (Join-Path $unpacked 'PmpMail.psd1') -ErrorAction Stop
        if ("$($manifest.Version)" -ne $version) { throw "ModuleVersion is $($manifest.Version), Cargo.toml says $version" }
        if (@($manifest.CompatiblePSEditions | Sort-Object) -join ',' -ne 'Core,Desktop') { throw "CompatiblePSEditions: $($manifest.CompatiblePSEditions)" }
        if ("$($manifest.PowerShellVersion)" -ne '5.1') { throw "PowerShellVersion: $($manifest.PowerShellVersion)" }
    }

    # Paths of this machine: the repository and the home folder (cargo's registry or vendor folder, NuGet's cache).
    $needles = [Collections.Generic.List[string]]::new()
    $needles.Add($root.TrimEnd('/', '\'))
    $homeDirectory = [Environment]::GetFolderPath('UserProfile')
    if ($homeDirectory -and $homeDirectory.Length -gt 3) { $needles.Add($homeDirectory.TrimEnd('/', '\') + [IO.Path]::DirectorySeparatorChar) }
    function Find-MachinePath([string[]] $Files) {
        foreach ($entry in $Files) {
            # Latin-1 maps each byte to one char, so this finds the UTF-8 (ASCII) and the UTF-16LE spellings.
            $text = [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes((Join-Path $unpacked $entry)))
            foreach ($needle in $needles) {
                $utf16 = [Text.Encoding]::Latin1.GetString([Text.Encoding]::Unicode.GetBytes($needle))
                $hits = @([regex]::Matches($text, [regex]::Escape($needle) + '[\x21-\x7e]{0,80}')) + @([regex]::Matches($text, [regex]::Escape($utf16)))
                if ($hits) { "$entry holds '$needle' $($hits.Count) time(s), e.g. $($hits[0].Value)" }
            }
        }
    }
    $nativeEntries = @($entries | Where-Object { $_ -like 'runtimes/*' })
    Invoke-PmpCheck $run 'no managed, manifest, help or packaging file names a path of the machine that built it' {
        $found = @(Find-MachinePath @($entries | Where-Object { $_ -notin $nativeEntries }))
        if ($found) { throw ($found -join '; ') }
    }
    Invoke-PmpCheck $run 'the native libraries name no path of the machine that built them' {
        $found = @(Find-MachinePath $nativeEntries)
        if ($found) { throw (($found -join '; ') + ' (panic locations of dependencies keep their source paths unless the release build remaps them: rustc --remap-path-prefix)') }
    }

    if (-not $ContentOnly) {

        $emulatorPath = Get-PmpEmulatorPath
        if (-not (Test-Path -LiteralPath $emulatorPath)) { $emulatorPath = Get-PmpEmulatorPath -CargoProfile release }
        if (-not (Test-Path -LiteralPath $emulatorPath)) { throw "No emulator binary; build it: cargo build -p pmp-graph-emulator" }
        $state = Join-Path $work 'emulator'
        $emulator = Start-PmpEmulator -Path $emulatorPath -Demo -Strict -StateDir $state -StandardErrorPath (Join-Path $work 'emulator.err')
        $saved = @{}
        function Set-ChildEnvironment([hashtable] $Variables) {
            # For the child processes only; the originals come back in finally.
            foreach ($name in $Variables.Keys) {
                if (-not $saved.ContainsKey($name)) { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
                [Environment]::SetEnvironmentVariable($name, $Variables[$name])
            }
        }
        function Invoke-ChildPwsh([string] $Script, [string] $Name, [string] $Shell = 'pwsh') {
            $scriptPath = Join-Path $work "$Name.ps1"
            # With a BOM: Windows PowerShell 5.1 reads a script without one in the ANSI code page.
            Set-Content -LiteralPath $scriptPath -Value $Script -Encoding utf8BOM
            # The pinned tool, as a user of this repository starts it; run from the repository so the tool manifest is found.
            Push-Location -LiteralPath $root
            try {
                $result = if ($Shell -eq 'powershell.exe') {
                    Invoke-NativeCapture powershell.exe @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $scriptPath) -TimeoutSeconds 300
                }
                else { Invoke-NativeCapture dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', $scriptPath) -TimeoutSeconds 300 }
            }
            finally { Pop-Location }
            if ($result.ExitCode -ne 0) { throw "$Name failed (exit code $($result.ExitCode))" }
            ($result.StandardOutput.Trim() -split '\r?\n')[-1]
        }

        try {
            $feed = Join-Path $work 'feed'
            $modules = Join-Path $work 'modules'
            New-Item -ItemType Directory -Force -Path $feed | Out-Null
            Copy-Item -LiteralPath $PackagePath -Destination $feed

            Invoke-PmpCheck $run 'Install-PSResource PmpMail from a local repository into an empty module path' {
                if ($IsLinux) {
                    # A new user: HOME and XDG_DATA_HOME in a new folder, so PSResourceGet's repository list
                    # (<XDG_DATA_HOME>/PSResourceGet) and its CurrentUser module path (~/.local/share/powershell/Modules)
                    # start empty and nothing of this user's changes. The dotnet CLI keeps its own state and the
                    # NuGet folder the pinned pwsh tool lives in.
                    $realHome = [Environment]::GetFolderPath('UserProfile')
                    $newHome = Join-Path $work 'home'
                    $dataHome = Join-Path $newHome '.local' 'share'
                    $modules = Join-Path $dataHome 'powershell' 'Modules'
                    $script:modules = $modules
                    # It must exist: .NET answers LocalApplicationData only with a folder that exists, and
                    # PSResourceGet would otherwise fall back to the current folder.
                    New-Item -ItemType Directory -Force -Path $dataHome | Out-Null
                    Set-ChildEnvironment @{
                        HOME = $newHome; XDG_DATA_HOME = $dataHome
                        DOTNET_CLI_HOME = $env:DOTNET_CLI_HOME ? $env:DOTNET_CLI_HOME : $realHome
                        NUGET_PACKAGES = $env:NUGET_PACKAGES ? $env:NUGET_PACKAGES : (Join-Path $realHome '.nuget' 'packages')
                    }
                    $installScript = @"
`$ErrorActionPreference = 'Stop'
foreach (`$folder in 'UserProfile', 'LocalApplicationData') {
    if (-not [Environment]::GetFolderPath(`$folder).StartsWith('$newHome')) { throw "`$folder is '`$([Environment]::GetFolderPath(`$folder))', not under the test's '$newHome'" }
}
Register-PSResourceRepository -Name PmpMailLocal -Uri '$feed' -Trusted
Install-PSResource -Name PmpMail -Version '$version' -Repository PmpMailLocal -Scope CurrentUser -TrustRepository -Quiet
(Get-InstalledPSResource -Name PmpMail -Scope CurrentUser).InstalledLocation
"@
                }
                else {
                    $repositoryName = 'pmp-mail-test-' + [guid]::NewGuid().ToString('n').Substring(0, 12)
                    $installScript = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name $repositoryName -Uri '$feed' -Trusted
try { Save-PSResource -Name PmpMail -Version '$version' -Repository $repositoryName -Path '$modules' -IncludeXml -TrustRepository -Quiet }
finally { Unregister-PSResourceRepository -Name $repositoryName }
'$modules'
"@
                }
                $location = Invoke-ChildPwsh $installScript 'install'
                $manifestPath = Join-Path $modules 'PmpMail' $version 'PmpMail.psd1'
                if (-not (Test-Path -LiteralPath $manifestPath)) { throw "not installed at $manifestPath (install reported: $location)" }
                "installed: $(Split-Path $manifestPath)"
            }

            $useShell = if ($Edition -eq 'Desktop') { 'powershell.exe' } else { 'pwsh' }
            Invoke-PmpCheck $run "a fresh $useShell imports PmpMail by name and sends through the emulator; the message arrives" {
                Set-ChildEnvironment @{ PSModulePath = $modules }
                $useScript = @"
`$ErrorActionPreference = 'Stop'
`$available = @(Get-Module -ListAvailable -Name PmpMail)
`$sw = [Diagnostics.Stopwatch]::StartNew()
Import-Module PmpMail
`$importMs = `$sw.Elapsed.TotalMilliseconds
`$module = Get-Module PmpMail
`$connection = @{
    TenantId = 'contoso.onmicrosoft.com'; ClientId = '22222222-2222-2222-2222-222222222222'
    ClientSecret = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
    AuthorityHost = '$($emulator.AuthorityHost)'; GraphRoot = '$($emulator.GraphRoot)'; TrustedCaPath = '$($emulator.CaPath)'
}
`$permissions = @(Test-PmpMailPermission @connection)
`$report = Join-Path '$work' 'Bericht-Übersicht.csv'
[IO.File]::WriteAllText(`$report, "Product,Status``nContoso Agent,Published")
`$sent = Send-PmpMail @connection -From 'alerts@contoso.onmicrosoft.com' -To 'Ops Team <ops@contoso.onmicrosoft.com>' ``
    -Subject 'Installed from the package ✓' -Body '<p>café, 東京</p>' -BodyAsHtml -Attachments `$report -PassThru
[pscustomobject]@{
    Available = @(`$available | ForEach-Object ModuleBase); ModuleBase = `$module.ModuleBase; Version = "`$(`$module.Version)"
    ImportMs = `$importMs; MailSend = (`$permissions | Where-Object Permission -EQ 'Mail.Send').Status
    Status = `$sent.Status; ClientRequestId = `$sent.ClientRequestId
    Interop = [PmpMail.Interop.PmpMailClient].Assembly.Location
} | ConvertTo-Json -Compress
"@
                $seen = Invoke-ChildPwsh $useScript 'use' $useShell | ConvertFrom-Json
                $installed = Join-Path $modules 'PmpMail' $version
                if (@($seen.Available).Count -ne 1 -or $seen.Available[0] -ne $installed) { throw "Get-Module -ListAvailable PmpMail: $($seen.Available -join ', ')" }
                if ($seen.ModuleBase -ne $installed) { throw "imported from $($seen.ModuleBase), not $installed" }
                if ($seen.Version -ne $version) { throw "imported version $($seen.Version)" }
                $interop = if ($Edition -eq 'Desktop') { Join-Path $installed 'Desktop' 'PmpMail.Interop.dll' } else { Join-Path $installed 'PmpMail.Interop.dll' }
                if ($seen.Interop -ne $interop) { throw "PmpMail.Interop from $($seen.Interop)" }
                if ($seen.MailSend -ne 'Granted') { throw "Test-PmpMailPermission: Mail.Send is $($seen.MailSend)" }
                if ($seen.Status -ne 'sent') { throw "Send-PmpMail: $($seen.Status)" }
                $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
                if ($messages.Count -ne 1) { throw "the emulator holds $($messages.Count) messages" }
                $m = $messages[0]
                if ($m.subject -ne 'Installed from the package ✓' -or $m.clientRequestId -ne $seen.ClientRequestId) { throw "arrived: '$($m.subject)' ($($m.clientRequestId))" }
                if (@($m.attachments | ForEach-Object name) -join ',' -ne 'Bericht-Übersicht.csv') { throw "attachments: $(@($m.attachments | ForEach-Object name) -join ',')" }
                "arrived: '$($m.subject)' from $($m.mailbox), attachment $(@($m.attachments | ForEach-Object name))"
                $script:FirstImportMs = $seen.ImportMs
            }

            if ($Edition -eq 'Core') { Invoke-PmpCheck $run "the installed module's import time (Import-Module in $ImportRuns fresh processes, beside the dev build's)" {
                # Interleaved, so machine load hits both alike. Stopwatch around Import-Module only (not pwsh's start).
                $devManifest = Join-Path $root 'dist' 'PmpMail' 'PmpMail.psd1'
                $installed = [Collections.Generic.List[double]]::new()
                $dev = [Collections.Generic.List[double]]::new()
                foreach ($i in 1..$ImportRuns) {
                    $installed.Add([double](Invoke-ChildPwsh "`$sw = [Diagnostics.Stopwatch]::StartNew(); Import-Module PmpMail; `$sw.Elapsed.TotalMilliseconds" "import-installed-$i"))
                    if (Test-Path -LiteralPath $devManifest) {
                        $dev.Add([double](Invoke-ChildPwsh "`$sw = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$devManifest'; `$sw.Elapsed.TotalMilliseconds" "import-dev-$i"))
                    }
                }
                $median = { param($values) $sorted = @($values | Sort-Object); $sorted[[int][math]::Floor($sorted.Count / 2)] }
                $load = if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg).Split(' ')[0] } else { 'n/a' }
                'import time, installed module (Import-Module PmpMail by name): median {0:N0} ms of {1} fresh processes (min {2:N0}, max {3:N0}); first import in the send test {4:N0} ms' -f (& $median $installed), $installed.Count, ($installed | Measure-Object -Minimum).Minimum, ($installed | Measure-Object -Maximum).Maximum, $script:FirstImportMs
                if ($dev.Count) { 'import time, dev build (Import-Module dist/PmpMail/PmpMail.psd1): median {0:N0} ms (min {1:N0}, max {2:N0}); load average {3}' -f (& $median $dev), ($dev | Measure-Object -Minimum).Minimum, ($dev | Measure-Object -Maximum).Maximum, $load }
            } }
        }
        finally {
            # [NullString]: PowerShell would pass `$null as "", leaving the variable set and empty (an empty
            # DOTNET_CLI_HOME or XDG_DATA_HOME makes NuGet write .nuget/ and .local/ into the current folder).
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, ($null -eq $saved[$name] ? [NullString]::Value : $saved[$name])) }
            Show-PmpEmulatorLog $run $emulator
            Stop-PmpEmulator $emulator
        }
    }
}
finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
Complete-PmpCheckRun $run $(if ($Edition -eq 'Desktop') { 'module-package-desktop' } else { 'module-package' })
