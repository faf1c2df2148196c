// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title CustomToken
/// @notice A plain ERC20 test token that anyone can mint, with the same constructor and
/// mint functions as the CustomToken of raiden-contracts' tests.
/// @dev Not for production use: `mint` and `mintFor` are open to everyone on purpose.
contract CustomToken {
    /// @notice Token name for display.
    string public name;
    /// @notice Token symbol for display.
    string public symbol;
    /// @notice Number of decimals of the display unit (18 in our deployments).
    uint8 public immutable decimals;
    /// @notice Total amount of tokens in existence.
    uint256 public totalSupply;

    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowances;

    /// @notice ERC20 transfer event (also emitted on mint, from the zero address).
    /// @param _from sender
    /// @param _to recipient
    /// @param _value amount
    event Transfer(address indexed _from, address indexed _to, uint256 _value);

    /// @notice ERC20 approval event.
    /// @param _owner owner of the tokens
    /// @param _spender account allowed to spend them
    /// @param _value new allowance
    event Approval(address indexed _owner, address indexed _spender, uint256 _value);

    /// @notice Emitted by `mint` and `mintFor`, as in raiden-contracts' test token.
    /// @param _to recipient of the new tokens
    /// @param _num amount minted
    event Minted(address indexed _to, uint256 indexed _num);

    /// @notice Creates the token and gives `initial_supply` to the deployer.
    /// @param initial_supply Tokens credited to msg.sender.
    /// @param decimal_units Number of decimals (use 18).
    /// @param token_name Name for display.
    /// @param token_symbol Symbol for display.
    constructor(
        uint256 initial_supply,
        uint8 decimal_units,
        string memory token_name,
        string memory token_symbol
    ) {
        name = token_name;
        symbol = token_symbol;
        decimals = decimal_units;
        if (initial_supply > 0) {
            _balances[msg.sender] = initial_supply;
            totalSupply = initial_supply;
            emit Transfer(address(0), msg.sender, initial_supply);
        }
    }

    /// @notice Mints `num` tokens to msg.sender.
    /// @param num Amount to mint.
    function mint(uint256 num) external {
        _mint(num, msg.sender);
    }

    /// @notice Mints `num` tokens to `target`.
    /// @param num Amount to mint.
    /// @param target Recipient of the new tokens.
    function mintFor(uint256 num, address target) external {
        _mint(num, target);
    }

    /// @notice The token balance of `_owner`.
    /// @param _owner Account to query.
    /// @return balance Its balance.
    function balanceOf(address _owner) external view returns (uint256 balance) {
        return _balances[_owner];
    }

    /// @notice How many tokens `_spender` may still move from `_owner`.
    /// @param _owner Owner of the tokens.
    /// @param _spender Spender.
    /// @return remaining The allowance.
    function allowance(address _owner, address _spender) external view returns (uint256 remaining) {
        return _allowances[_owner][_spender];
    }

    /// @notice Moves `_value` tokens from msg.sender to `_to`.
    /// @param _to Recipient.
    /// @param _value Amount.
    /// @return success Always true (failures revert).
    function transfer(address _to, uint256 _value) external returns (bool success) {
        _transfer(msg.sender, _to, _value);
        return true;
    }

    /// @notice Moves `_value` tokens from `_from` to `_to` using msg.sender's allowance.
    /// An allowance of 2**256-1 is treated as unlimited and never decreased.
    /// @param _from Owner of the tokens.
    /// @param _to Recipient.
    /// @param _value Amount.
    /// @return success Always true (failures revert).
    function transferFrom(address _from, address _to, uint256 _value) external returns (bool success) {
        uint256 allowed = _allowances[_from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= _value, "CT: insufficient allowance");
            unchecked {
                _allowances[_from][msg.sender] = allowed - _value;
            }
        }
        _transfer(_from, _to, _value);
        return true;
    }

    /// @notice Sets the allowance of `_spender` over msg.sender's tokens to `_value`.
    /// @param _spender Spender.
    /// @param _value New allowance.
    /// @return success Always true.
    function approve(address _spender, uint256 _value) external returns (bool success) {
        _allowances[msg.sender][_spender] = _value;
        emit Approval(msg.sender, _spender, _value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "CT: transfer to zero address");
        uint256 fromBalance = _balances[from];
        require(fromBalance >= value, "CT: insufficient balance");
        unchecked {
            // Cannot overflow: the sum of all balances is totalSupply.
            _balances[from] = fromBalance - value;
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _mint(uint256 num, address target) private {
        require(target != address(0), "CT: mint to zero address");
        totalSupply += num;
        unchecked {
            // Cannot overflow: bounded by totalSupply, checked above.
            _balances[target] += num;
        }
        emit Transfer(address(0), target, num);
        emit Minted(target, num);
    }
}
