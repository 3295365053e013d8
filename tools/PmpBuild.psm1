#requires -Version 7.4
<#
PmpBuild: what build.ps1, the Pester suite (powershell/tests/common.ps1) and the benchmarks share,
so each exists once and runs wherever pwsh runs:

  Get-PmpRepositoryRoot, Get-PmpTargetDirectory   where the repository and cargo's output are
  Get-PmpVersion                                  the release version ([workspace.package] in Cargo.toml)
  Get-PmpNativeLibrary                            the native library's file name and RID for this
                                                  OS/arch (mirrors NativeLibraryResolver.cs)
  Get-PmpEmulatorPath                             the pmp-graph-emulator binary
  Invoke-Native                                   runs a native command; throws on a non-zero exit
  Invoke-NativeCapture                            runs one and keeps its stdout/stderr (in files too)
  Start-PmpEmulator / Stop-PmpEmulator            THE emulator launcher (stdin-EOF shutdown)
  New-PmpEmulatorHttpClient                       an HttpClient that trusts only the emulator's CA
  Invoke-PmpEmulatorControl                       the emulator's control API over that client
  New-PmpCheckRun, Invoke-PmpCheck,               named checks of a suite, their tally and summary
  Show-PmpEmulatorLog, Complete-PmpCheckRun

Import it with: Import-Module (Join-Path <repo> 'tools' 'PmpBuild.psm1')
#>

Set-StrictMode -Version Latest

$script:RepoRoot = Split-Path $PSScriptRoot -Parent

function Get-PmpRepositoryRoot {
    <# The repository root (the folder above tools/). #>
    $script:RepoRoot
}

function Get-PmpTargetDirectory {
    <# cargo's target folder: $env:CARGO_TARGET_DIR, else target/ at the repository root. #>
    if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { Join-Path $script:RepoRoot 'target' }
}

function Get-PmpVersion {
    <# The release version: [workspace.package] version in Cargo.toml, the one place it is set. #>
    $manifest = Get-Content -LiteralPath (Join-Path $script:RepoRoot 'Cargo.toml') -Raw
    $section = [regex]::Match($manifest, '(?ms)^\[workspace\.package\]\s*$(.*?)(?=^\[)')
    $version = [regex]::Match($section.Groups[1].Value, '(?m)^version\s*=\s*"([^"]+)"')
    if (-not $version.Success) { throw 'Cargo.toml has no [workspace.package] version' }
    $version.Groups[1].Value
}

function Get-PmpNativeLibrary {
    <#
    .SYNOPSIS
        The native library for this process's OS and architecture: its file name, the runtime
        identifier folder the module uses (runtimes/<rid>/native/), and where cargo puts it.
    .DESCRIPTION
        Mirrors dotnet/PmpMail.Interop/Native/NativeLibraryResolver.cs (PlatformFileName,
        RuntimeIdentifier): pmp_mail.dll / libpmp_mail.so / libpmp_mail.dylib and
        win|osx|linux-x64|x86|arm64|arm.
    #>
    [CmdletBinding()]
    param(
        # cargo profile folder (debug, release).
        [string] $CargoProfile = 'debug',
        [string] $TargetDirectory = (Get-PmpTargetDirectory)
    )
    $name = 'pmp_mail'
    $os = if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' }
    $architecture = [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture
    $arch = switch ($architecture) {
        'X64' { 'x64' }
        'X86' { 'x86' }
        'Arm64' { 'arm64' }
        'Arm' { 'arm' }
        default { $architecture.ToString().ToLowerInvariant() }
    }
    $fileName = if ($IsWindows) { "$name.dll" } elseif ($IsMacOS) { "lib$name.dylib" } else { "lib$name.so" }
    $directory = Join-Path $TargetDirectory $CargoProfile
    [pscustomobject]@{
        Name              = $name
        FileName          = $fileName
        RuntimeIdentifier = "$os-$arch"
        Directory         = $directory
        Path              = Join-Path $directory $fileName
    }
}

function Get-PmpEmulatorPath {
    <#
    .SYNOPSIS
        The pmp-graph-emulator binary: $env:PMP_MAIL_EMULATOR, else $env:PMP_EMULATOR_BIN (as the
        .NET harness EmulatorProcess.cs reads them), else target/<profile>/pmp-graph-emulator[.exe].
    #>
    [CmdletBinding()]
    param([string] $CargoProfile = 'debug', [switch] $IgnoreEnvironment)
    if (-not $IgnoreEnvironment) {
        if ($env:PMP_MAIL_EMULATOR) { return $env:PMP_MAIL_EMULATOR }
        if ($env:PMP_EMULATOR_BIN) { return $env:PMP_EMULATOR_BIN }
    }
    Join-Path (Get-PmpTargetDirectory) $CargoProfile ($IsWindows ? 'pmp-graph-emulator.exe' : 'pmp-graph-emulator')
}

function Invoke-Native {
    <#
    .SYNOPSIS
        Runs a native command with its output on the console and throws when it exits non-zero,
        so a red step stops the caller.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Command,
        [Parameter(Position = 1)] [string[]] $Arguments = @(),
        [string] $WorkingDirectory
    )
    Write-Host "> $(@($Command) + $Arguments -join ' ')" -ForegroundColor DarkGray
    # Resolved as an application, so an alias or function of the same name (echo, curl on
    # Windows PowerShell) never runs instead and $LASTEXITCODE is this command's.
    $application = (Get-Command $Command -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    if ($WorkingDirectory) { Push-Location -LiteralPath $WorkingDirectory }
    try {
        & $application @Arguments
        $code = $LASTEXITCODE
    }
    finally {
        if ($WorkingDirectory) { Pop-Location }
    }
    if ($code -ne 0) { throw "'$(@($Command) + $Arguments -join ' ')' failed with exit code $code" }
}

function Invoke-NativeCapture {
    <#
    .SYNOPSIS
        Runs a native command, shows its stdout and stderr, and keeps both: in the returned object
        (ExitCode, StandardOutput, StandardError) and, with -OutputPath, in <OutputPath>.out and
        <OutputPath>.err. Does not throw on a non-zero exit (the caller decides); throws when the
        command cannot start or runs longer than -TimeoutSeconds (then it is killed).
        -RemoveEnvironment and -Environment change the child's environment only (removed first).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Command,
        [Parameter(Position = 1)] [string[]] $Arguments = @(),
        [string] $OutputPath,
        [int] $TimeoutSeconds = 900,
        [string] $WorkingDirectory,
        [string[]] $RemoveEnvironment = @(),
        [hashtable] $Environment = @{}
    )
    Write-Host "> $(@($Command) + $Arguments -join ' ')" -ForegroundColor DarkGray
    $resolved = (Get-Command $Command -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $psi = [System.Diagnostics.ProcessStartInfo]::new($resolved)
    foreach ($a in $Arguments) { $psi.ArgumentList.Add($a) }
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    foreach ($name in $RemoveEnvironment) { $null = $psi.Environment.Remove($name) }
    foreach ($name in $Environment.Keys) { $psi.Environment[$name] = $Environment[$name] }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    $psi.StandardOutputEncoding = $utf8
    $psi.StandardErrorEncoding = $utf8
    $process = [System.Diagnostics.Process]::Start($psi)
    try {
        $process.StandardInput.Close()
        # Both pipes drain concurrently, so a chatty stderr cannot block the child.
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $process.Kill($true)
            $process.WaitForExit()
            throw "'$(@($Command) + $Arguments -join ' ')' did not finish within $TimeoutSeconds s and was killed"
        }
        $process.WaitForExit()
        $result = [pscustomobject]@{
            ExitCode       = $process.ExitCode
            StandardOutput = $stdout.GetAwaiter().GetResult()
            StandardError  = $stderr.GetAwaiter().GetResult()
        }
    }
    finally {
        $process.Dispose()
    }
    if ($OutputPath) {
        [System.IO.File]::WriteAllText("$OutputPath.out", $result.StandardOutput, $utf8)
        [System.IO.File]::WriteAllText("$OutputPath.err", $result.StandardError, $utf8)
    }
    if ($result.StandardOutput) { Write-Host $result.StandardOutput.TrimEnd() }
    if ($result.StandardError) { Write-Host $result.StandardError.TrimEnd() -ForegroundColor DarkYellow }
    if ($result.ExitCode -ne 0) { Write-Host "(exit code $($result.ExitCode))" -ForegroundColor DarkGray }
    $result
}

function New-PmpEmulatorHttpClient {
    <#
    .SYNOPSIS
        An HttpClient that trusts exactly one root, the emulator's CA.
    .DESCRIPTION
        The platform builds the chain with CustomRootTrust (the system store is not consulted) and
        checks the host name against the URL, so a certificate from any other CA, or for another
        name, fails the TLS handshake. No proxy. No validation callback (a script block cannot run
        on the thread pool's TLS threads).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $CaPem)
    $policy = [System.Security.Cryptography.X509Certificates.X509ChainPolicy]::new()
    $policy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
    $null = $policy.CustomTrustStore.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem($CaPem))
    $policy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $handler.UseProxy = $false
    $handler.SslOptions.CertificateChainPolicy = $policy
    $handler.SslOptions.CertificateRevocationCheckMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    $client = [System.Net.Http.HttpClient]::new($handler, $true)
    $client.Timeout = [TimeSpan]::FromSeconds(60)
    $client
}

function Start-PmpEmulator {
    <#
    .SYNOPSIS
        Starts pmp-graph-emulator (`serve ... --exit-on-stdin-eof`) and returns what it printed.
    .DESCRIPTION
        Reads the emulator's JSON startup line (within -StartupTimeoutSeconds; a debug build makes
        RSA keys at start, which is slow on a loaded machine) and returns an object with BaseUrl,
        AuthorityHost, GraphRoot, ControlUrl, CaPath, StateDir, Process and ControlClient (an
        HttpClient that trusts only the emulator's CA; see Invoke-PmpEmulatorControl). The base
        URL must be HTTPS and the CA file must exist. Stop it with Stop-PmpEmulator: closing its
        stdin ends it, so it also ends when this process dies.
    .EXAMPLE
        $emulator = Start-PmpEmulator -Demo -Strict -StateDir ./.state/demo
        try { ... $emulator.BaseUrl ... } finally { Stop-PmpEmulator $emulator }
    #>
    [CmdletBinding()]
    param(
        # The binary; default: Get-PmpEmulatorPath -CargoProfile $CargoProfile.
        [string] $Path,
        [string] $CargoProfile = 'debug',
        # --demo: the built-in demo tenant, app and mailbox.
        [switch] $Demo,
        # --strict: strict wire checks (see `pmp-graph-emulator serve --help`).
        [switch] $Strict,
        # --config: a directory file (TOML, or JSON when it ends in .json).
        [string] $ConfigPath,
        # --state-dir: ca.pem, demo credentials and message copies (default: a new temp folder).
        [string] $StateDir,
        [string] $Listen = '127.0.0.1:0',
        [int] $StartupTimeoutSeconds = 60,
        # Where the emulator's stderr goes; default: this console.
        [string] $StandardErrorPath
    )
    if (-not $Path) { $Path = Get-PmpEmulatorPath -CargoProfile $CargoProfile }
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        throw "The emulator binary is not at $Path; build it first: dotnet pwsh ./build.ps1 build (or cargo build -p pmp-graph-emulator)"
    }
    $arguments = [System.Collections.Generic.List[string]]@('serve', '--listen', $Listen)
    if ($Demo) { $arguments.Add('--demo') }
    if ($Strict) { $arguments.Add('--strict') }
    if ($ConfigPath) { $arguments.AddRange([string[]]@('--config', $ConfigPath)) }
    if ($StateDir) { $arguments.AddRange([string[]]@('--state-dir', $StateDir)) }
    $arguments.Add('--exit-on-stdin-eof')

    $psi = [System.Diagnostics.ProcessStartInfo]::new((Resolve-Path -LiteralPath $Path).Path)
    foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = [bool]$StandardErrorPath
    Write-Host "> $Path $($arguments -join ' ')" -ForegroundColor DarkGray
    $process = [System.Diagnostics.Process]::Start($psi)
    $errorStream = $null
    $errorCopy = $null
    if ($StandardErrorPath) {
        # Copied on the thread pool (no PowerShell callback on another thread); closed by Stop-PmpEmulator.
        $errorStream = [System.IO.FileStream]::new($StandardErrorPath, [System.IO.FileMode]::Create, [System.IO.FileAccess]::Write, [System.IO.FileShare]::ReadWrite)
        $errorCopy = $process.StandardError.BaseStream.CopyToAsync($errorStream)
    }
    $emulatorErrors = {
        if ($errorCopy) { $null = $errorCopy.Wait(2000); $errorStream.Flush(); "; its stderr:`n" + (Get-Content -LiteralPath $StandardErrorPath -Raw) } else { ' (its stderr is above)' }
    }
    try {
        $lineTask = $process.StandardOutput.ReadLineAsync()
        if (-not $lineTask.Wait($StartupTimeoutSeconds * 1000)) {
            $process.Kill($true)
            $process.WaitForExit()
            throw "The emulator printed no startup line within $StartupTimeoutSeconds s$(& $emulatorErrors)"
        }
        $line = $lineTask.Result
        if (-not $line) {
            $process.WaitForExit()
            throw "The emulator exited (exit code $($process.ExitCode)) before its startup line$(& $emulatorErrors)"
        }
        # Nothing else is expected on stdout; drain it so the emulator never blocks on a full pipe.
        $null = $process.StandardOutput.BaseStream.CopyToAsync([System.IO.Stream]::Null)
        $info = $line | ConvertFrom-Json
        if ("$($info.baseUrl)" -notlike 'https://*') { throw "The emulator's base URL is not HTTPS: $($info.baseUrl)" }
        if (-not $info.caPath -or -not (Test-Path -LiteralPath $info.caPath -PathType Leaf)) { throw "The emulator's CA file does not exist: $($info.caPath)" }
        $emulator = [pscustomobject]@{
            BaseUrl           = $info.baseUrl
            AuthorityHost     = $info.authorityHost
            GraphRoot         = $info.graphRoot
            ControlUrl        = $info.controlUrl
            CaPath            = $info.caPath
            StateDir          = $info.stateDir
            Process           = $process
            ControlClient     = New-PmpEmulatorHttpClient -CaPem (Get-Content -LiteralPath $info.caPath -Raw)
            StandardErrorPath = $StandardErrorPath
            ErrorStream       = $errorStream
            ErrorCopy         = $errorCopy
        }
        Write-Host "Emulator at $($emulator.BaseUrl) (state $($emulator.StateDir))" -ForegroundColor DarkGray
        $emulator
    }
    catch {
        if (-not $process.HasExited) { $process.Kill($true); $process.WaitForExit() }
        if ($errorStream) { $errorStream.Dispose() }
        $process.Dispose()
        throw
    }
}

function Stop-PmpEmulator {
    <#
    .SYNOPSIS
        Stops an emulator from Start-PmpEmulator: closes its stdin (--exit-on-stdin-eof), kills it
        when it has not exited after -TimeoutSeconds, and releases its control client and stderr file.
        Returns nothing; safe to call with $null or twice.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipeline)] $Emulator,
        [int] $TimeoutSeconds = 5,
        # Also delete the emulator's state folder.
        [switch] $RemoveStateDir
    )
    process {
        if (-not $Emulator) { return }
        $p = $Emulator.Process
        try { $p.StandardInput.Close() } catch { Write-Verbose "stdin already closed: $_" }
        try {
            if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
                Write-Warning "The emulator did not exit within $TimeoutSeconds s of its stdin closing; killing it."
                $p.Kill($true)
                $p.WaitForExit()
            }
        }
        catch [System.InvalidOperationException] { Write-Verbose "no process to stop: $_" }
        if ($Emulator.ControlClient) { $Emulator.ControlClient.Dispose() }
        if ($Emulator.ErrorCopy) { $null = $Emulator.ErrorCopy.Wait(5000) }
        if ($Emulator.ErrorStream) { $Emulator.ErrorStream.Dispose() }
        if ($RemoveStateDir -and $Emulator.StateDir) {
            Remove-Item -LiteralPath $Emulator.StateDir -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}

function Invoke-PmpEmulatorControl {
    <#
    .SYNOPSIS
        Calls the emulator's control API (<ControlUrl>/<Path>) over TLS validated against the
        emulator's own CA (its ControlClient); returns the parsed JSON, or the text with -Raw.
        Throws on a TLS failure or a non-success status.
    .EXAMPLE
        @(Invoke-PmpEmulatorControl $emulator 'messages').Count
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Emulator,
        [Parameter(Mandatory, Position = 1)] [string] $Path,
        [string] $Method = 'GET',
        # Sent as JSON.
        $Body,
        [switch] $Raw
    )
    $request = [System.Net.Http.HttpRequestMessage]::new([System.Net.Http.HttpMethod]::new($Method), "$($Emulator.ControlUrl)/$Path")
    try {
        if ($null -ne $Body) {
            $request.Content = [System.Net.Http.StringContent]::new(($Body | ConvertTo-Json -Depth 10), [System.Text.Encoding]::UTF8, 'application/json')
        }
        $response = $Emulator.ControlClient.SendAsync($request).GetAwaiter().GetResult()
        try {
            $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
            if (-not $response.IsSuccessStatusCode) {
                throw "$Method $Path`: $([int]$response.StatusCode) $text"
            }
            if ($Raw) { $text } elseif ($text) { $text | ConvertFrom-Json }
        }
        finally { $response.Dispose() }
    }
    finally { $request.Dispose() }
}

function New-PmpCheckRun {
    <# A tally for Invoke-PmpCheck: the checks passed, the names of those that failed. #>
    [pscustomobject]@{ Passed = 0; Failures = [System.Collections.Generic.List[string]]::new() }
}

function Invoke-PmpCheck {
    <#
    One named check of a suite: it passes when the body neither throws nor returns $false. Text the
    body returns is shown. The body runs in its caller's scope chain (script variables resolve).
    #>
    param(
        [Parameter(Mandatory, Position = 0)] $Run,
        [Parameter(Mandatory, Position = 1)] [string] $Name,
        [Parameter(Mandatory, Position = 2)] [scriptblock] $Body
    )
    Write-Host "--> $Name" -ForegroundColor Cyan
    $passed = $false
    try {
        $result = @(& $Body)
        $result | Where-Object { $_ -isnot [bool] } | Out-Host
        $passed = -not ($result -contains $false)
    }
    catch {
        Write-Host "$Name`: $_" -ForegroundColor Red
    }
    if ($passed) {
        $Run.Passed++
        Write-Host "ok   $Name" -ForegroundColor Green
    }
    else {
        $Run.Failures.Add($Name)
        Write-Host "FAIL $Name" -ForegroundColor Red
    }
}

function Show-PmpEmulatorLog {
    <# After a failed check: the tail of the emulator's stderr (call before its folder is removed). #>
    param($Run, $Emulator)
    if ($Run.Failures.Count -gt 0 -and $Emulator -and $Emulator.StandardErrorPath -and
        (Test-Path -LiteralPath $Emulator.StandardErrorPath)) {
        Write-Host '--- emulator stderr (tail) ---'
        Get-Content -LiteralPath $Emulator.StandardErrorPath -Tail 40 | Write-Host
    }
}

function Complete-PmpCheckRun {
    <# Prints the tally; throws when a check failed. #>
    param(
        [Parameter(Mandatory, Position = 0)] $Run,
        [Parameter(Mandatory, Position = 1)] [string] $Suite
    )
    Write-Host ''
    foreach ($name in $Run.Failures) { Write-Host "failed: $name" -ForegroundColor Red }
    Write-Host "$($Run.Passed) passed, $($Run.Failures.Count) failed"
    if ($Run.Failures.Count -gt 0) { throw "${Suite}: $($Run.Failures.Count) check(s) failed" }
}

function New-PmpEmulatorClientConfig {
    <#
    .SYNOPSIS
        The client config of an app with a client secret against a running emulator
        (Start-PmpEmulator): authority and Graph on the emulator, its CA trusted, the system
        proxy off. An ordered dictionary, so the caller can add keys (retry, sending) before
        ConvertTo-Json; keys keep this order.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Emulator,
        [Parameter(Mandatory)] [string] $Secret,
        [string] $ClientId = '22222222-2222-2222-2222-222222222222',
        # http.timeoutSeconds; left out (the library's default) when 0.
        [int] $TimeoutSeconds
    )
    $http = [ordered]@{ extraCaCertificatesPem = (Get-Content -LiteralPath $Emulator.CaPath -Raw); useSystemProxy = $false }
    if ($TimeoutSeconds) { $http.timeoutSeconds = $TimeoutSeconds }
    [ordered]@{
        tenant        = 'contoso.onmicrosoft.com'
        clientId      = $ClientId
        auth          = [ordered]@{ type = 'clientSecret'; secret = $Secret }
        authorityHost = $Emulator.BaseUrl
        graphRoot     = $Emulator.BaseUrl
        http          = $http
    }
}

Export-ModuleMember -Function Get-PmpRepositoryRoot, Get-PmpTargetDirectory, Get-PmpVersion, Get-PmpNativeLibrary, Get-PmpEmulatorPath,
    Invoke-Native, Invoke-NativeCapture, New-PmpEmulatorHttpClient, New-PmpEmulatorClientConfig, Start-PmpEmulator, Stop-PmpEmulator,
    Invoke-PmpEmulatorControl, New-PmpCheckRun, Invoke-PmpCheck, Show-PmpEmulatorLog, Complete-PmpCheckRun

# --- Added for the C SDK package (tools/New-CSdkPackage.ps1, tools/Test-CSdkPackage.ps1) ---

function Install-PmpSystemPackage {
    <#
    .SYNOPSIS
        Makes sure a command is on PATH: when it is missing on a Debian/Ubuntu machine and this
        runs as root, installs the package that has it with apt-get (as build.ps1 does for
        valgrind); anywhere else throws naming the package.
    .EXAMPLE
        Install-PmpSystemPackage -Command pkg-config -Package pkg-config
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Command, [Parameter(Mandatory)] [string] $Package)
    if (Get-Command $Command -CommandType Application -ErrorAction Ignore) { return }
    if (-not $IsLinux -or -not (Get-Command apt-get -CommandType Application -ErrorAction Ignore) -or (& id -u) -ne '0') {
        throw "$Command is missing: install the package '$Package'"
    }
    Write-Host "Installing $Package (needed for $Command)" -ForegroundColor Yellow
    & apt-get install -y -qq $Package *> $null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -qq *> $null
        Invoke-Native apt-get @('install', '-y', '-qq', $Package)
    }
    if (-not (Get-Command $Command -CommandType Application -ErrorAction Ignore)) { throw "$Package was installed but $Command is still missing" }
}

function Get-PmpCSdkLayout {
    <#
    .SYNOPSIS
        What the C SDK tarball pmp-mail-<version>-<rid>.tar.gz holds for a version and runtime
        identifier: its top folder and every entry under it, so the packager
        (tools/New-CSdkPackage.ps1) and the install test (tools/Test-CSdkPackage.ps1) share one list.
    .DESCRIPTION
        Entries are relative to the top folder: Path, Kind (Directory, File, SymbolicLink),
        Target (a link's target, relative to its folder) and Role (header, shared, soname-link,
        dev-link, import, static, pkgconfig, cmake-config, cmake-version, license, readme).
        Linux: lib/libpmp_mail.so.<M.m.p> with SONAME libpmp_mail.so.0.<minor> (0.x: a minor release
        may change the ABI) or libpmp_mail.so.<major> from 1.0 on, and links for that SONAME and for
        libpmp_mail.so. macOS: lib/libpmp_mail.dylib (install name @rpath/libpmp_mail.dylib, as rustc
        makes it). Windows: bin/pmp_mail.dll with lib/pmp_mail.dll.lib and lib/pmp_mail.lib.
    #>
    [CmdletBinding()]
    param(
        [string] $Version = (Get-PmpVersion),
        [string] $RuntimeIdentifier = (Get-PmpNativeLibrary).RuntimeIdentifier
    )
    $numbers = [regex]::Match($Version, '^(\d+)\.(\d+)\.(\d+)')
    if (-not $numbers.Success) { throw "'$Version' is not a MAJOR.MINOR.PATCH version" }
    $major, $minor, $patch = 1..3 | ForEach-Object { $numbers.Groups[$_].Value }
    $name = 'pmp_mail'
    $os = ($RuntimeIdentifier -split '-')[0]
    $entries = [System.Collections.Generic.List[object]]::new()
    function Add-Entry([string] $Path, [string] $Kind, [string] $Role, [string] $Target) {
        $entries.Add([pscustomobject]@{ Path = $Path; Kind = $Kind; Role = $Role; Target = $Target })
    }
    Add-Entry 'include' Directory
    Add-Entry 'include/pmp_mail.h' File header
    if ($os -eq 'win') { Add-Entry 'bin' Directory }
    Add-Entry 'lib' Directory
    $soname = $null
    switch ($os) {
        'linux' {
            $real = "lib$name.so.$major.$minor.$patch"
            $soname = if ($major -eq '0') { "lib$name.so.0.$minor" } else { "lib$name.so.$major" }
            Add-Entry "lib/$real" File shared
            Add-Entry "lib/$soname" SymbolicLink soname-link $real
            Add-Entry "lib/lib$name.so" SymbolicLink dev-link $soname
            Add-Entry "lib/lib$name.a" File static
        }
        'osx' {
            $soname = "@rpath/lib$name.dylib"
            Add-Entry "lib/lib$name.dylib" File shared
            Add-Entry "lib/lib$name.a" File static
        }
        'win' {
            Add-Entry "bin/$name.dll" File shared
            Add-Entry "lib/$name.dll.lib" File import
            Add-Entry "lib/$name.lib" File static
        }
        default { throw "No C SDK layout for runtime identifier '$RuntimeIdentifier'" }
    }
    Add-Entry 'lib/pkgconfig' Directory
    Add-Entry 'lib/pkgconfig/pmp-mail.pc' File pkgconfig
    Add-Entry 'lib/cmake' Directory
    Add-Entry 'lib/cmake/pmp-mail' Directory
    Add-Entry 'lib/cmake/pmp-mail/pmp-mailConfig.cmake' File cmake-config
    Add-Entry 'lib/cmake/pmp-mail/pmp-mailConfigVersion.cmake' File cmake-version
    Add-Entry 'LICENSE' File license
    Add-Entry 'README.md' File readme
    [pscustomobject]@{
        Version           = $Version
        RuntimeIdentifier = $RuntimeIdentifier
        Os                = $os
        Top               = "pmp-mail-$Version-$RuntimeIdentifier"
        FileName          = "pmp-mail-$Version-$RuntimeIdentifier.tar.gz"
        Soname            = $soname
        Entries           = $entries.ToArray()
    }
}

function Get-PmpRuntimeTargets {
    <#
    .SYNOPSIS
        The runtimes pmp-mail is released for, in order: runtime identifier (the runtimes/<rid>/native/
        folder of the packages) to Rust target triple.
    #>
    [ordered]@{
        'win-x64'     = 'x86_64-pc-windows-msvc'
        'win-arm64'   = 'aarch64-pc-windows-msvc'
        'linux-x64'   = 'x86_64-unknown-linux-gnu'
        'linux-arm64' = 'aarch64-unknown-linux-gnu'
        'osx-x64'     = 'x86_64-apple-darwin'
        'osx-arm64'   = 'aarch64-apple-darwin'
    }
}

Export-ModuleMember -Function Install-PmpSystemPackage, Get-PmpCSdkLayout, Get-PmpRuntimeTargets
